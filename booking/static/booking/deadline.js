// A convenience only: the page already says by when to pay. Each
// <span data-pay-countdown="ISO" hidden>（剩余 <strong></strong>）</span> shows the minutes left.
(function () {
  function start() {
    document.querySelectorAll("[data-pay-countdown]").forEach(function (box) {
      var end = new Date(box.getAttribute("data-pay-countdown")).getTime(), out = box.querySelector("strong");
      (function tick() {
        var left = Math.max(0, Math.floor((end - Date.now()) / 1000));
        out.textContent = Math.floor(left / 60) + " 分 " + String(left % 60).padStart(2, "0") + " 秒";
        box.hidden = false;
        if (left > 0) { setTimeout(tick, 1000); }
      })();
    });
  }
  document.addEventListener("DOMContentLoaded", start);
})();
