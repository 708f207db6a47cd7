/* leadsync console: draws each <figure class="chart"> of the health page with uPlot (vendored).
   The numbers come from the figure's <script type="application/json" class="chart-data">
   ({days, series, values}); the same numbers are the figure's table, for screen readers and
   for anyone without JavaScript. No data is fetched. */
(function () {
  "use strict";
  var COLOURS = ["#1f5fbf", "#b3261e", "#1c7a3e", "#7a5b00", "#6b3fa0", "#00707a", "#a0522d", "#56606b"];

  function dayToSeconds(day) {
    return Date.parse(day + "T00:00:00Z") / 1000;
  }

  function draw(figure) {
    var holder = figure.querySelector(".chart-canvas");
    var source = figure.querySelector("script.chart-data");
    if (!holder || !source || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    var columns = [data.days.map(dayToSeconds)].concat(data.values);
    var series = [{}].concat(data.series.map(function (label, n) {
      var colour = COLOURS[n % COLOURS.length];
      return { label: label, stroke: colour, fill: colour + "22", width: 2, points: { show: true } };
    }));
    var width = Math.max(280, holder.clientWidth || figure.clientWidth || 560);
    var options = {
      width: width,
      height: 220,
      series: series,
      scales: { x: { time: true } },
      axes: [{ space: 60 }, { size: 50 }],
      legend: { show: true },
    };
    holder.textContent = "";
    figure.uplot = new uPlot(options, columns, holder);
  }

  function drawAll() {
    document.querySelectorAll("figure.chart").forEach(draw);
  }

  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      document.querySelectorAll("figure.chart").forEach(function (figure) {
        var holder = figure.querySelector(".chart-canvas");
        if (figure.uplot && holder) figure.uplot.setSize({ width: Math.max(280, holder.clientWidth), height: 220 });
      });
    }, 150);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
