/* The dashboards' live part (templates/reporting/_dashboard_live.html).

   htmx asks for news every few seconds and swaps the live part when a new evaluation changed
   it. Swapping replaces every element, so this script carries over what the person was
   doing: the element that had keyboard focus, the "Trend values" panels and collapsed
   sections they opened, and where on the page they were. Elements are matched by the
   `data-key` attributes of the templates (the chain of keyed ancestors, then the element's
   place among its kind inside the nearest one).

   It also announces, in the polite live region #dashboard-announcer, the states that changed
   (only those: the countdowns change every minute and would be noise), and offers a
   Pause/Resume button for the polling (WCAG 2.2.2), remembered in localStorage.

   Trend charts: each <canvas data-trend="ID"> is drawn from the JSON in <script id="ID">
   (json_script): {labels, values, target, threshold, unit, label}.

   Countdowns: the server renders them once and never again only because time passed (its
   poll answers 204 while the data is unchanged), so this script recounts every
   <time data-countdown datetime=…> each second, in the words of the server's `duration()`
   (monitoring/evaluation/format.py): "2 h 5 min left", "breached 1 d 2 h ago", "target in
   45 min", "target missed 3 min ago". It also moves the "now" line of the availability
   timelines (and the end of what is still going on) along the period. */
(function () {
  "use strict";
  var OKABE_BLUE = "#0072b2";
  var BRAND = "#1d3557";
  var STORAGE_KEY = "sla-portal.dashboard.auto-refresh";
  var LIVE_ID = "dashboard-live";

  /* --- Trend charts ------------------------------------------------------------------------ */

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

  /* --- Keys: the same element before and after a swap --------------------------------------- */

  function keyOf(element, root) {
    var parts = [];
    var node = element;
    while (node && node !== root) {
      if (node.dataset && node.dataset.key) { parts.unshift(node.dataset.key); }
      node = node.parentElement;
    }
    if (!(element.dataset && element.dataset.key)) {
      var scope = element.parentElement ? element.parentElement.closest("[data-key]") : null;
      if (!scope || !root.contains(scope)) { scope = root; }
      var same = Array.prototype.indexOf.call(scope.querySelectorAll(element.tagName), element);
      parts.push(element.tagName + ":" + same);
    }
    return parts.join("/");
  }

  function findByKey(root, key, selector) {
    var found = null;
    root.querySelectorAll(selector).forEach(function (candidate) {
      if (!found && keyOf(candidate, root) === key) { found = candidate; }
    });
    return found;
  }

  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

  /* --- What a swap must carry over ---------------------------------------------------------- */

  function states(root) {
    var found = {};
    root.querySelectorAll("[data-announce]").forEach(function (element) {
      var state = element.querySelector(".dash-chip-state, .dash-state");
      if (state) { found[element.dataset.announce] = state.textContent.trim(); }
    });
    return found;
  }

  function snapshot(live) {
    var active = document.activeElement;
    var focus = null;
    if (active && active !== document.body && live.contains(active)) {
      focus = { key: keyOf(active, live), top: active.getBoundingClientRect().top };
    }
    var open = [];
    live.querySelectorAll("details[open], .collapse.show").forEach(function (element) {
      open.push({ key: keyOf(element, live), tag: element.tagName });
    });
    return { focus: focus, open: open, scrollY: window.scrollY, states: states(live) };
  }

  function reopen(live, open) {
    open.forEach(function (item) {
      var element = findByKey(live, item.key, item.tag === "DETAILS" ? "details" : ".collapse");
      if (!element) { return; }
      if (element.tagName === "DETAILS") {
        element.open = true;
        return;
      }
      element.classList.add("show");
      document.querySelectorAll('[aria-controls="' + element.id + '"]').forEach(function (toggle) {
        toggle.classList.remove("collapsed");
        toggle.setAttribute("aria-expanded", "true");
      });
    });
  }

  function refocus(live, focus, scrollY) {
    if (!focus) {
      window.scrollTo(0, scrollY);
      return;
    }
    var element = findByKey(live, focus.key, FOCUSABLE);
    if (!element) {
      window.scrollTo(0, scrollY);
      return;
    }
    element.focus({ preventScroll: true });
    // Keep the focused element where it was on the screen: no jump.
    window.scrollTo(0, scrollY);
    var moved = element.getBoundingClientRect().top - focus.top;
    if (moved) { window.scrollBy(0, moved); }
  }

  function announce(before, after) {
    var changes = [];
    Object.keys(after).forEach(function (label) {
      if (before[label] === undefined) {
        changes.push(label + ": " + after[label] + " (new)");
      } else if (before[label] !== after[label]) {
        changes.push(label + ": now " + after[label] + " (was " + before[label] + ")");
      }
    });
    var gone = Object.keys(before).filter(function (label) { return after[label] === undefined; });
    if (gone.length) {
      changes.push(gone.length + (gone.length === 1 ? " item no longer listed" : " items no longer listed"));
    }
    if (!changes.length) { return; }
    var region = document.getElementById("dashboard-announcer");
    if (!region) { return; }
    var time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    var shown = changes.slice(0, 5);
    if (changes.length > shown.length) { shown.push("and " + (changes.length - shown.length) + " more"); }
    region.textContent = "Updated " + time + ": " + shown.join("; ") + ".";
  }

  /* --- Countdowns and the timeline's "now" ---------------------------------------------- */

  // monitoring.evaluation.format.duration, to the letter: the unit is chosen after rounding.
  function duration(seconds) {
    var abs = Math.abs(seconds);
    var minutes = Math.round(abs / 60);
    var text;
    if (Math.round(abs) < 60) {
      text = Math.round(abs) + " s";
    } else if (minutes < 60) {
      text = minutes + " min";
    } else if (minutes < 1440) {
      var rest = minutes % 60;
      text = Math.floor(minutes / 60) + " h" + (rest ? " " + rest + " min" : "");
    } else {
      var hours = Math.round(abs / 3600);
      var restHours = hours % 24;
      text = Math.floor(hours / 24) + " d" + (restHours ? " " + restHours + " h" : "");
    }
    return text;
  }

  var COUNTDOWN = {
    threshold: function (left) {
      return left >= 0 ? duration(left) + " left" : "breached " + duration(-left) + " ago";
    },
    target: function (left) {
      return left >= 0 ? "target in " + duration(left) : "target missed " + duration(-left) + " ago";
    }
  };

  function tick(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[data-countdown]").forEach(function (el) {
      var words = COUNTDOWN[el.dataset.countdown];
      var at = Date.parse(el.getAttribute("datetime"));
      if (!words || isNaN(at)) { return; }
      var text = words((at - now) / 1000);
      if (el.textContent !== text) { el.textContent = text; }
    });
    (root || document).querySelectorAll("figure.dash-timeline[data-start]").forEach(function (fig) {
      var start = Date.parse(fig.dataset.start);
      var end = Date.parse(fig.dataset.end);
      if (isNaN(start) || isNaN(end) || end <= start) { return; }
      var at = Math.min(Math.max((now - start) / (end - start) * 100, 0), 100);
      fig.querySelectorAll("line.timeline-now").forEach(function (line) {
        line.setAttribute("x1", at.toFixed(3));
        line.setAttribute("x2", at.toFixed(3));
      });
      fig.querySelectorAll("rect.timeline-future").forEach(function (rect) {
        rect.setAttribute("x", at.toFixed(3));
        rect.setAttribute("width", (100 - at).toFixed(3));
      });
      fig.querySelectorAll("rect[data-ongoing]").forEach(function (rect) {
        var left = parseFloat(rect.getAttribute("x"));
        rect.setAttribute("width", Math.max(at - left, 0.25).toFixed(3));
      });
    });
  }

  /* --- Pause / resume --------------------------------------------------------------------- */

  function paused() {
    try { return window.localStorage.getItem(STORAGE_KEY) === "paused"; } catch (e) { return false; }
  }

  function showPaused(isPaused) {
    var button = document.getElementById("dashboard-pause");
    var note = document.getElementById("dashboard-refresh-state");
    if (button) {
      button.querySelector(".dash-pause-label").textContent =
        isPaused ? "Resume auto-refresh" : "Pause auto-refresh";
      var icon = button.querySelector(".bi");
      if (icon) { icon.className = "bi " + (isPaused ? "bi-play-fill" : "bi-pause-fill"); }
      button.dataset.paused = isPaused ? "true" : "false";
    }
    if (note) {
      note.textContent = isPaused
        ? "Auto-refresh is paused: the figures stay as they are until you resume or reload."
        : "Updates by itself every few seconds.";
    }
  }

  function setPaused(isPaused) {
    try { window.localStorage.setItem(STORAGE_KEY, isPaused ? "paused" : "on"); } catch (e) { /* private mode */ }
    showPaused(isPaused);
    var live = document.getElementById(LIVE_ID);
    if (!isPaused && live && typeof htmx !== "undefined") {
      // Catch up at once instead of at the next tick.
      htmx.ajax("GET", live.getAttribute("hx-get"), { source: live, target: live, swap: "outerHTML" });
    }
  }

  /* --- Wiring ----------------------------------------------------------------------------- */

  var saved = null;

  document.addEventListener("DOMContentLoaded", function () {
    drawAll(document);
    tick(document);
    window.setInterval(function () { tick(document); }, 1000);
    showPaused(paused());
    var button = document.getElementById("dashboard-pause");
    if (button) {
      button.addEventListener("click", function () { setPaused(!paused()); });
    }
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === LIVE_ID && paused()) {
      event.preventDefault();
    }
  });

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== LIVE_ID) { return; }
    if (!event.detail.shouldSwap) { return; }
    saved = snapshot(target);
    destroyAll(target);
  });

  document.body.addEventListener("htmx:afterSwap", function () {
    var live = document.getElementById(LIVE_ID);
    if (!live || !saved || saved.swapped) { return; }
    saved.swapped = true;
    reopen(live, saved.open);
    refocus(live, saved.focus, saved.scrollY);
    announce(saved.states, states(live));
  });

  // htmx "settles" elements that keep their id: they get the old attributes for a moment,
  // then the new ones, which would close a section opened by hand. So reopen once more.
  document.body.addEventListener("htmx:afterSettle", function () {
    var live = document.getElementById(LIVE_ID);
    if (live && saved && saved.swapped) {
      reopen(live, saved.open);
      saved = null;
    }
    drawAll(live || document);
    tick(live || document);
  });
}());
