// Live relative times: every <time data-countdown> re-renders each 15 s without a reload.
(function () {
  "use strict";
  function human(seconds) {
    var s = Math.abs(Math.round(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 2 * 86400) {
      return s < 10 * 3600 ? Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min"
                           : Math.floor(s / 3600) + " h";
    }
    return Math.floor(s / 86400) + " days";
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
