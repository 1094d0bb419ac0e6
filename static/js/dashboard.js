/* Trend charts of the dashboards (templates/reporting/_dashboard_customer.html).
   Each <canvas data-trend="ID"> is drawn from the JSON in <script id="ID"> (json_script):
   {labels, values, target, threshold, unit, label}. htmx replaces the live part when a new
   evaluation changes it; the charts of the old part are destroyed and the new ones drawn. */
(function () {
  "use strict";
  var OKABE_BLUE = "#0072b2";
  var BRAND = "#1d3557";

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.trend);
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var existing = Chart.getChart(canvas);
    if (existing) { existing.destroy(); }
    var flat = function (value) { return data.labels.map(function () { return value; }); };
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.label, data: data.values, borderColor: OKABE_BLUE, backgroundColor: OKABE_BLUE,
            pointStyle: "circle", pointRadius: 3, borderWidth: 2, spanGaps: true },
          { label: "Target", data: flat(data.target), borderColor: BRAND, borderWidth: 2,
            pointRadius: 0, borderDash: [] },
          { label: "Threshold", data: flat(data.threshold), borderColor: BRAND, borderWidth: 1.5,
            pointRadius: 0, borderDash: [5, 4] }
        ]
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var v = ctx.parsed.y;
                return ctx.dataset.label + ": " + (v === null ? "no value" : v + " " + data.unit);
              }
            }
          }
        },
        scales: {
          x: { ticks: { maxRotation: 0, autoSkip: true, font: { size: 10 } } },
          y: { ticks: { font: { size: 10 } }, grace: "5%" }
        }
      }
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-trend]").forEach(draw);
  }

  function destroyAll(root) {
    if (typeof Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-trend]").forEach(function (canvas) {
      var chart = Chart.getChart(canvas);
      if (chart) { chart.destroy(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target) { destroyAll(event.detail.target); }
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    drawAll(document.getElementById("dashboard-live") || document);
  });
}());
