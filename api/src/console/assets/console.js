// The fleet console's one script: pages work without it; with it, an element carrying
// data-poll="<url>" is refreshed every few seconds from that JSON endpoint, each field into
// the element whose data-field names it (as text, never as markup).
"use strict";
(function () {
  function refresh(root) {
    var url = root.getAttribute("data-poll");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        root.querySelectorAll("[data-field]").forEach(function (el) {
          var key = el.getAttribute("data-field");
          if (Object.prototype.hasOwnProperty.call(data, key)) {
            el.textContent = String(data[key]);
          }
        });
        root.setAttribute("data-polled", String(Number(root.getAttribute("data-polled") || "0") + 1));
      })
      .catch(function () { /* the next poll tries again */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(function (root) {
      var every = Number(root.getAttribute("data-poll-ms") || "2000");
      setInterval(function () { refresh(root); }, every);
    });
  });
})();
