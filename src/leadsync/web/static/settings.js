// The integration settings page (integration_settings.html).
//
// A preview shows what the settings on the page would do: once the form is edited after it,
// it is of other settings, so it is put away (with its Save button; the server refuses to
// save a change that was not previewed anyway) and the page says to preview again.
//
// A link of the error summary moves the focus to its field, not only the view.
//
// A preview swapped in takes the focus (the button that asked for it is disabled while it
// runs, which left the focus on the page's body): keyboard and screen-reader users land on
// what it says.
(function () {
  "use strict";

  function putAwayPreview(event) {
    var target = event.target;
    if (!target || !target.closest || !target.closest("#settings-form")) return;
    var preview = document.getElementById("preview");
    if (!preview || !preview.querySelector("section.preview")) return;
    var note = document.createElement("p");
    note.className = "note stale-preview";
    note.textContent =
      "The form changed since the preview: preview the change again to see what it " +
      "would do, then save it.";
    preview.replaceChildren(note);
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    // The preview alone, or the whole page after a refusal (its errors then go).
    var target = event.detail && event.detail.target;
    if (!target || (target.id !== "preview" && target.id !== "main")) return;
    var shown = document.querySelector("#preview section.preview");
    if (shown) shown.focus();
  });

  document.addEventListener("input", putAwayPreview);
  document.addEventListener("change", putAwayPreview);

  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest && event.target.closest(".error-summary a");
    if (!link) return;
    var id = (link.getAttribute("href") || "").replace(/^#/, "");
    var field = document.getElementById(id);
    if (!field) return;
    event.preventDefault();
    field.scrollIntoView({ block: "center" });
    field.focus({ preventScroll: true });
  });
})();
