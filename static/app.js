// Live relative times: every <time data-countdown> re-renders each 15 s without a reload.
(function () {
  "use strict";
  // Mirrors humanize_delta in app/web/templating.py: each unit rounded to the nearest.
  function human(seconds) {
    var s = Math.round(Math.abs(seconds));
    if (s < 60) return s + " s";
    var minutes = Math.round(s / 60);
    if (minutes < 60) return minutes + " min";
    if (minutes < 10 * 60) {
      return Math.floor(minutes / 60) + " h" + (minutes % 60 ? " " + (minutes % 60) + " min" : "");
    }
    var hours = Math.round(s / 3600);
    if (hours < 48) return hours + " h";
    return Math.round(s / 86400) + " days";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var when = Date.parse(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      var delta = (when - now) / 1000;
      el.textContent = delta >= 0 ? "in " + human(delta) : human(delta) + " ago";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 15000);
    document.querySelectorAll("[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  });
})();
