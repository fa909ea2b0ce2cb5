// A convenience only: the page already says when a day's places are released ("X月X日 15:00 放号").
// Each <time data-countdown datetime="ISO"> gets a live "还有 1天 02:03:04" beside it.
(function () {
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var out = el.parentNode.querySelector(".countdown");
      if (!out) {
        out = document.createElement("span");
        out.className = "countdown";
        out.setAttribute("aria-hidden", "true");  // read-aloud users get the absolute time
        el.parentNode.appendChild(out);
      }
      var left = Math.floor((Date.parse(el.getAttribute("datetime")) - now) / 1000);
      if (left <= 0) { out.textContent = " 已放号，请刷新页面"; return; }
      var days = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
      out.textContent = " · 还有 " + (days ? days + "天 " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
})();
