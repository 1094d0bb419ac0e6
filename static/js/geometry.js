/* Positions and widths computed by the server (a progress bar's width, an outage's place on
   the uptime bar) come as data-left, data-right and data-width percentages and are applied
   here: the Content-Security-Policy refuses style attributes in the HTML. Only numbers are
   read, clamped to 0-100 %. Runs on the page and on every htmx swap. */
(function () {
  "use strict";
  var SIDES = ["left", "right", "width"];
  function percent(value) {
    var number = parseFloat(value);
    return isFinite(number) ? Math.max(0, Math.min(100, number)) + "%" : "";
  }
  function place(element) {
    SIDES.forEach(function (side) {
      if (element.hasAttribute("data-" + side)) {
        element.style[side] = percent(element.getAttribute("data-" + side));
      }
    });
  }
  function placeAll(root) {
    var selector = "[data-left], [data-right], [data-width]";
    if (root.matches && root.matches(selector)) place(root);
    if (root.querySelectorAll) root.querySelectorAll(selector).forEach(place);
  }
  if (window.htmx) {
    window.htmx.onLoad(placeAll);
  } else {
    document.addEventListener("DOMContentLoaded", function () { placeAll(document); });
  }
})();
