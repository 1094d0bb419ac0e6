// The API documentation (Swagger UI) names what it leaves unnamed, as Swagger UI renders it:
// a parameter's choice list gets the parameter's name, the examples list and the dialog's
// close button get theirs, and the dialog's "Authorize" button is called what it says (WCAG
// 4.1.2, 2.5.3). Swagger UI re-renders at will, so a MutationObserver keeps the names on.
(function () {
  "use strict";
  function name(root) {
    root.querySelectorAll("tr[data-param-name] select:not([aria-label])").forEach(function (el) {
      var row = el.closest("tr[data-param-name]");
      el.setAttribute("aria-label", row.getAttribute("data-param-name"));
    });
    root.querySelectorAll("select.examples-select-element:not([aria-label])").forEach(function (el) {
      el.setAttribute("aria-label", "Example");
    });
    root.querySelectorAll(".close-modal:not([aria-label])").forEach(function (el) {
      el.setAttribute("aria-label", "Close");
    });
    root.querySelectorAll(".auth-btn-wrapper button[aria-label]").forEach(function (el) {
      el.removeAttribute("aria-label");
    });
  }
  var target = document.getElementById("swagger-ui");
  if (!target) return;
  new MutationObserver(function () { name(target); }).observe(target, { childList: true, subtree: true });
  name(target);
})();
