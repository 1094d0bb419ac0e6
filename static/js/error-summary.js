// The editor's error summary: a link moves focus to the field in error and shows the field in
// the middle of the window. The browser's own jump to the fragment scrolls only as far as
// needed, smoothly (Bootstrap), which can leave the field under the sticky save bar at the
// bottom of the window while the page still moves. The jump here is at once.
(function () {
  const summary = document.getElementById("error-summary");
  if (!summary) return;
  summary.addEventListener("click", function (event) {
    const link = event.target.closest('a[href^="#"]');
    if (!link) return;
    const field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    field.focus({ preventScroll: true });
    field.scrollIntoView({ block: "center", behavior: "instant" });
    history.replaceState(null, "", link.getAttribute("href"));
  });
})();
