// Every console page: a request htmx sends that gets no answer at all (the service stopped,
// the network away) is said on the page — an alert at the top of the content — rather than
// nothing happening (a preview area left empty, a button enabled again). The next request
// that is answered takes the alert away.
(function () {
  "use strict";

  var SAID =
    "The service could not be reached, so nothing was done. Try again once it answers " +
    "(or reload the page).";

  function unreachable() {
    var main = document.getElementById("main");
    if (!main) return;
    var note = document.getElementById("unreachable");
    if (!note) {
      note = document.createElement("p");
      note.id = "unreachable";
      note.className = "note unreachable";
      note.setAttribute("role", "alert");
      main.prepend(note);
    }
    note.textContent = SAID;
  }

  document.addEventListener("htmx:sendError", unreachable);
  document.addEventListener("htmx:timeout", unreachable);
  document.addEventListener("htmx:afterOnLoad", function () {
    var note = document.getElementById("unreachable");
    if (note) note.remove();
  });
})();
