/* "Copy" buttons: data-copy="<selector of a field>" copies that field's value.
   Without the clipboard API (plain http on another host) the field is selected instead, so
   Ctrl+C finishes the job; the button says which happened. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    var label = button.innerHTML;
    function say(text) {
      button.textContent = text;
      setTimeout(function () { button.innerHTML = label; }, 2500);
    }
    function selectIt() {
      field.focus();
      field.select();
      say("Selected: press Ctrl+C");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { say("Copied"); }, selectIt);
    } else {
      selectIt();
    }
  });
})();
