/* "Print" buttons: data-print on a button prints the page (a file, not an inline handler, so
   that the Content-Security-Policy allows no inline script at all). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) window.print();
  });
})();
