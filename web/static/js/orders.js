/* The order list: row selection ("this page" / "all matching"), export progress, tidy filter URLs.
   The page works without it (plain forms and links); htmx does the fetching. */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, k) { return values[k] == null ? "" : values[k]; });
  }

  var form = $("#bulk-form");
  if (!form) return;
  var scope = $("[data-bulk-scope]", form);
  var label = $("[data-bulk-count]", form);
  var selectAll = $("[data-select-all]", form);
  var clear = $("[data-clear-selection]", form);

  function boxes() { return $all("#order-rows [data-order-check]"); }
  function total() {
    var el = document.getElementById("order-total");
    var n = el && parseInt(el.getAttribute("data-total") || "", 10);
    return isNaN(n) ? null : n;
  }
  function selectedCount() {
    if (scope.value === "all") return total() || 0;
    return boxes().filter(function (b) { return b.checked; }).length;
  }

  function update() {
    var all = scope.value === "all";
    var list = boxes();
    var checked = list.filter(function (b) { return b.checked; }).length;
    var n = all ? total() : checked;
    if (all) label.textContent = fmt(label.getAttribute("data-all"), { num: n == null ? "…" : n.toLocaleString() });
    else if (checked) label.textContent = fmt(label.getAttribute("data-some"), { num: checked.toLocaleString() });
    else label.textContent = label.getAttribute("data-none");
    selectAll.hidden = all || !checked;
    clear.hidden = !all && !checked;
    form.classList.toggle("has-selection", all || checked > 0);
    $all("[data-needs-selection]", form).forEach(function (el) {
      el.setAttribute("aria-disabled", all || checked ? "false" : "true");
    });
    var page = $("[data-select-page]");
    if (page) {
      page.checked = list.length > 0 && checked === list.length;
      page.indeterminate = checked > 0 && checked < list.length;
    }
  }

  document.addEventListener("change", function (event) {
    var t = event.target;
    if (t.matches("[data-select-page]")) {
      boxes().forEach(function (b) { b.checked = t.checked; });
      if (!t.checked) scope.value = "ids";
      update();
    } else if (t.matches("[data-order-check]")) {
      if (!t.checked && scope.value === "all") scope.value = "ids";
      update();
    }
  });

  selectAll.addEventListener("click", function () {
    scope.value = "all";
    boxes().forEach(function (b) { b.checked = true; });
    update();
  });
  clear.addEventListener("click", function () {
    scope.value = "ids";
    boxes().forEach(function (b) { b.checked = false; });
    update();
  });

  // A bulk menu opens only with something selected; one menu open at a time.
  $all(".bulk-menu > summary", form).forEach(function (summary) {
    summary.addEventListener("click", function (event) {
      if (summary.getAttribute("aria-disabled") === "true") { event.preventDefault(); return; }
      $all(".bulk-menu[open]", form).forEach(function (d) { if (d !== summary.parentElement) d.open = false; });
    });
  });
  // Enter in a menu's field runs that menu's action (not the form's default).
  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.target.tagName !== "INPUT") return;
    var pop = event.target.closest(".bulk-pop");
    if (!pop) return;
    event.preventDefault();
    var button = $("[data-bulk-submit]", pop);
    if (button) button.click();
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "order-list") scope.value = "ids";   // new filters: a new selection
    if (scope.value === "all") boxes().forEach(function (b) { b.checked = true; });
    if (target && target.id === "bulk-result" && $("[data-bulk-done]", target)) {
      $all(".bulk-menu[open]", form).forEach(function (d) { d.open = false; });
      scope.value = "ids";
    }
    update();
  });

  // Leave empty filters out of the address bar and the request.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt.id !== "order-filters" || !event.detail.formData) return;
    var fd = event.detail.formData;
    Array.from(fd.keys()).forEach(function (k) {
      if (fd.getAll(k).every(function (v) { return v === ""; })) fd.delete(k);
    });
  });

  // Export: stream the CSV with a progress bar (rows received of rows expected), then save it.
  var exportButton = $("[data-export]", form);
  var progress = $("[data-export-progress]");
  if (exportButton && progress && window.fetch && window.ReadableStream) {
    exportButton.addEventListener("click", function (event) {
      event.preventDefault();
      if (exportButton.getAttribute("aria-busy") === "true") return;
      var expected = selectedCount() || total();
      var bar = $("progress", progress);
      var text = $("span", progress);
      progress.hidden = false;
      bar.removeAttribute("value");
      exportButton.setAttribute("aria-busy", "true");
      var result = document.getElementById("bulk-result");
      fetch("/orders/export", {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "HX-Request": "true", "HX-Target": "bulk-result" }
      }).then(function (response) {
        if (!response.ok) {
          return response.text().then(function (html) { result.innerHTML = html; progress.hidden = true; });
        }
        var name = (/filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "") || [])[1] || "orders.csv";
        var reader = response.body.getReader();
        var chunks = [], rows = -1;
        function pump() {
          return reader.read().then(function (step) {
            if (step.done) return;
            chunks.push(step.value);
            for (var i = 0; i < step.value.length; i++) if (step.value[i] === 10) rows++;
            if (expected) { bar.max = expected; bar.value = Math.min(rows, expected); }
            text.textContent = fmt(exportButton.getAttribute("data-progress-text"),
                                   { done: Math.max(rows, 0).toLocaleString(), total: expected ? expected.toLocaleString() : "…" });
            return pump();
          });
        }
        return pump().then(function () {
          var url = URL.createObjectURL(new Blob(chunks, { type: "text/csv" }));
          var a = document.createElement("a");
          a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
          setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
          bar.max = 1; bar.value = 1;
          text.textContent = exportButton.getAttribute("data-done-text") + " · " + name;
          setTimeout(function () { progress.hidden = true; }, 4000);
        });
      }).catch(function () { progress.hidden = true; }).then(function () { exportButton.removeAttribute("aria-busy"); });
    });
  }

  update();
})();
