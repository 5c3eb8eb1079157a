// lamsach portal: the little glue the pages need (no inline scripts, so the CSP stays strict).
(function () {
  "use strict";

  // Every htmx request carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  });

  // The language switch submits itself.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("select[data-autosubmit]")) {
      target.form.submit();
    }
  });

  // Confirmation for buttons that carry data-confirm.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function drawCharts() {
    if (typeof Chart === "undefined") { return; }
    var data = readJson("chart-data");
    if (!data) { return; }
    var rate = document.getElementById("chart-rate");
    if (rate && data.rate) {
      new Chart(rate, {
        type: "line",
        data: {
          labels: data.rate.labels,
          datasets: [
            { label: data.rate.reported_label, data: data.rate.reported, borderColor: "#0b5394",
              backgroundColor: "rgba(11,83,148,.12)", fill: true, tension: 0.2 },
            { label: data.rate.on_time_label, data: data.rate.on_time, borderColor: "#1e7b34",
              fill: false, tension: 0.2 }
          ]
        },
        options: { maintainAspectRatio: false, animation: false,
          scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } } } }
      });
    }
    var units = document.getElementById("chart-units");
    if (units && data.units) {
      new Chart(units, {
        type: "bar",
        data: { labels: data.units.labels,
          datasets: data.units.series.map(function (s, i) {
            var colours = ["#0b5394", "#b35c00", "#1e7b34", "#b3261e"];
            return { label: s.label, data: s.values, backgroundColor: colours[i % colours.length] };
          }) },
        options: { maintainAspectRatio: false, animation: false, indexAxis: "y",
          scales: { y: { ticks: { autoSkip: false, font: { size: 11 } } } } }
      });
    }
  }

  document.addEventListener("DOMContentLoaded", drawCharts);
})();
