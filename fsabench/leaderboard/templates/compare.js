/* fsabench leaderboard: per-example comparison of 2+ entries. Examples are inline JSON; each entry's
   predictions are a small script (assets/preds/<slug>.js) added on demand, which works from file://
   (no fetch) and from the service alike. State lives in location.hash. Text goes in via textContent. */
(function () {
  "use strict";
  var block = document.getElementById("compare-data");
  if (!block) return;
  var data = JSON.parse(block.textContent);
  var preds = window.FSA_PREDS = window.FSA_PREDS || {};
  var el = function (id) { return document.getElementById(id); };
  var PAGE = 100, state = { page: 0, matches: [] }, loading = {};
  var names = {};
  data.entries.forEach(function (e) { names[e.slug] = e.name; });

  var order = [];  /* A, B, ...: as the URL gives them, then in the order they are picked (not list order) */
  function picked() {
    var selected = Array.prototype.filter.call(el("cmp-entries").options, function (o) { return o.selected; })
      .map(function (o) { return o.value; });
    order = order.filter(function (s) { return selected.indexOf(s) >= 0; });
    selected.forEach(function (s) { if (order.indexOf(s) < 0) order.push(s); });
    return order.slice();
  }
  function readHash() {
    var params = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("="); if (i > 0) params[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1));
    });
    var chosen = (params.e || "").split(",").filter(Boolean);
    Array.prototype.forEach.call(el("cmp-entries").options, function (o) { o.selected = chosen.indexOf(o.value) >= 0; });
    order = chosen.filter(function (s) { return names[s] !== undefined; });
    if (params.task) el("cmp-task").value = params.task;
    el("cmp-subset").value = params.subset || "";
    el("cmp-filter").value = params.show || "";
    state.page = parseInt(params.page || "0", 10) || 0;
  }
  function writeHash() {
    var parts = ["e=" + picked().map(encodeURIComponent).join(","), "task=" + encodeURIComponent(el("cmp-task").value)];
    if (el("cmp-subset").value) parts.push("subset=" + encodeURIComponent(el("cmp-subset").value));
    if (el("cmp-filter").value) parts.push("show=" + el("cmp-filter").value);
    if (state.page) parts.push("page=" + state.page);
    var hash = "#" + parts.join("&");
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }
  function load(slugs, done) {
    var waiting = slugs.filter(function (s) { return !preds[s]; });
    if (!waiting.length) { done(); return; }
    waiting.forEach(function (slug) {
      if (loading[slug]) return;
      loading[slug] = true;
      var s = document.createElement("script");
      s.src = data.preds_base + encodeURIComponent(slug) + ".js";
      s.onload = s.onerror = function () { loading[slug] = false; if (slugs.every(function (x) { return preds[x]; })) done(); };
      document.head.appendChild(s);
    });
  }
  function cell(tr, text, cls) {
    var c = document.createElement(tr.parentNode && tr.parentNode.tagName === "THEAD" ? "th" : "td");
    c.textContent = text === null || text === undefined ? "" : text;
    if (cls) c.className = cls;
    tr.appendChild(c);
  }
  function refilter() {
    var slugs = picked(), task = data.tasks[el("cmp-task").value];
    var subset = el("cmp-subset").value, show = el("cmp-filter").value;
    var runs = slugs.map(function (s) { return (preds[s] || {})[el("cmp-task").value] || null; });
    state.matches = [];
    if (!task) return render(slugs, runs);
    task.examples.forEach(function (ex, i) {
      if (subset && ex[3].indexOf(subset) < 0) return;
      var ok = runs.map(function (r) { return r && i < r.ok.length ? r.ok.charAt(i) === "1" : null; });
      if (show === "a-not-b" && !(ok[0] === true && ok[1] === false)) return;
      if (show === "b-not-a" && !(ok[0] === false && ok[1] === true)) return;
      if (show === "differ" && ok.every(function (v) { return v === ok[0]; })) return;
      if (show === "all-wrong" && ok.some(function (v) { return v !== false; })) return;
      state.matches.push(i);
    });
    render(slugs, runs);
  }
  function render(slugs, runs) {
    var head = el("cmp-head");
    head.textContent = "";
    ["id", "sentence", "gold"].forEach(function (h) { cell(head, h); });
    slugs.forEach(function (s, k) { cell(head, (k < 2 ? "AB".charAt(k) + ": " : "") + (names[s] || s)); });
    el("cmp-ab").textContent = slugs.length >= 2 ? "A = " + names[slugs[0]] + ", B = " + names[slugs[1]] : "Pick at least two entries.";
    var body = el("compare").tBodies[0], task = data.tasks[el("cmp-task").value] || { examples: [] };
    body.textContent = "";
    var pages = Math.max(1, Math.ceil(state.matches.length / PAGE));
    state.page = Math.max(0, Math.min(state.page, pages - 1));
    var frag = document.createDocumentFragment();
    state.matches.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (i) {
      var ex = task.examples[i], tr = document.createElement("tr");
      frag.appendChild(tr);
      cell(tr, ex[0], "id"); cell(tr, ex[1]); cell(tr, ex[2], "gold");
      runs.forEach(function (r) {
        if (!r || i >= r.ok.length) { cell(tr, "– (not answered)"); return; }
        cell(tr, r.parsed[i], r.ok.charAt(i) === "1" ? "right" : "wrong");
      });
    });
    body.appendChild(frag);
    el("cmp-count").textContent = state.matches.length + " of " + task.examples.length + " examples";
    el("cmp-page").textContent = "page " + (state.page + 1) + " of " + pages;
    el("cmp-prev").disabled = state.page === 0;
    el("cmp-next").disabled = state.page >= pages - 1;
    writeHash();
    document.body.setAttribute("data-ready", "1");
  }
  function update() { document.body.removeAttribute("data-ready"); var s = picked(); load(s, refilter); }
  ["cmp-entries", "cmp-task", "cmp-subset", "cmp-filter"].forEach(function (id) {
    el(id).addEventListener("change", function () { state.page = 0; update(); });
  });
  el("cmp-prev").addEventListener("click", function () { state.page -= 1; refilter(); });
  el("cmp-next").addEventListener("click", function () { state.page += 1; refilter(); });
  window.addEventListener("hashchange", function () { readHash(); update(); });
  readHash();
  update();
})();
