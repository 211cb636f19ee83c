/* OMS admin: small progressive enhancements. Everything works without this file. */
(function () {
  "use strict";

  // Copy buttons next to secrets shown once (generated passwords, new API keys).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var value = button.getAttribute("data-copy");
    var label = button.querySelector("[data-copied-text]");
    var done = function () {
      if (!label) return;
      var original = label.textContent;
      label.textContent = label.getAttribute("data-copied-text");
      setTimeout(function () { label.textContent = original; }, 1600);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done);
    } else {
      var secret = button.closest(".secret");
      var code = secret && secret.querySelector("[data-secret]");
      if (code) {
        var range = document.createRange();
        range.selectNodeContents(code);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
      }
    }
  });

  // Plain (non-htmx) forms that ask before doing something drastic.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-confirm") && !form.hasAttribute("hx-post")) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    }
  });

  // Close the mobile menu after choosing an entry.
  document.addEventListener("click", function (event) {
    if (event.target.closest(".sidebar a")) {
      var toggle = document.getElementById("nav-toggle");
      if (toggle) toggle.checked = false;
    }
  });

  // Flashes fade away on their own after a while (errors stay until dismissed).
  function autoHide(root) {
    (root || document).querySelectorAll(".flash-success, .flash-info").forEach(function (el) {
      setTimeout(function () { el.classList.add("flash-hide"); }, 6000);
      setTimeout(function () { el.remove(); }, 6600);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { autoHide(document); });
  document.addEventListener("htmx:afterSwap", function (event) { autoHide(event.target); });
})();
