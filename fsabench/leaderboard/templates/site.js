/* fsabench leaderboard: sortable table, category filter, per-example browser.
   Data is read with JSON.parse from inline blocks and written with textContent only. */
(function () {
  "use strict";

  function cellValue(row, index, type) {
    var raw = row.cells[index].getAttribute("data-sort");
    if (raw === null) raw = row.cells[index].textContent;
    if (type === "num") return raw === "" ? null : parseFloat(raw);
    return raw.toLowerCase();
  }

  function sortBy(table, th) {
    /* Keys are read once per row (not per comparison) and the rows go back in one fragment, so a
       1,000-row table sorts in a few milliseconds. */
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var index = headers.indexOf(th);
    var type = th.getAttribute("data-type");
    var current = th.getAttribute("aria-sort");
    var dir = current ? (current === "ascending" ? "descending" : "ascending")
                      : (type === "num" && index > 0 ? "descending" : "ascending");
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var body = table.tBodies[0];
    var sign = dir === "ascending" ? 1 : -1;
    var keyed = Array.prototype.map.call(body.rows, function (row, i) {
      return { row: row, key: cellValue(row, index, type), i: i };
    });
    keyed.sort(function (a, b) {
      var x = a.key, y = b.key;
      if (x === null && y === null) return a.i - b.i;
      if (x === null) return 1;   /* missing values last, whatever the direction */
      if (y === null) return -1;
      return x < y ? -sign : x > y ? sign : a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (k) { frag.appendChild(k.row); });
    body.appendChild(frag);
    if (table.afterSort) table.afterSort();
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      var button = th.querySelector("button");
      if (button) button.addEventListener("click", function () { sortBy(table, th); });
    });
  });

  var filter = document.getElementById("category-filter");
  if (filter) {
    /* Only the first ROWS matching rows are laid out (the rest are hidden until "show more"): a
       1,000-entry table then filters and sorts in well under 200 ms. */
    var ROWS = 100, limit = ROWS;
    var nameFilter = document.getElementById("name-filter");
    var more = document.getElementById("show-more");
    var board = document.getElementById("leaderboard");
    var applyFilter = function () {
      var matched = 0, needle = nameFilter ? nameFilter.value.trim().toLowerCase() : "";
      Array.prototype.forEach.call(board.tBodies[0].rows, function (row) {
        if (row.nameKey === undefined) row.nameKey = row.cells[1].getAttribute("data-sort").toLowerCase();
        var match = (!filter.value || row.getAttribute("data-category") === filter.value) &&
          (!needle || row.nameKey.indexOf(needle) >= 0);
        if (match) matched += 1;
        var visible = match && matched <= limit;
        if (row.hidden === visible) row.hidden = !visible;
      });
      document.getElementById("row-count").textContent = matched + (matched === 1 ? " entry" : " entries") +
        (matched > limit ? " (first " + limit + " shown)" : "");
      if (more) more.hidden = matched <= limit;
    };
    board.afterSort = applyFilter;
    filter.addEventListener("change", function () { limit = ROWS; applyFilter(); });
    if (nameFilter) nameFilter.addEventListener("input", function () { limit = ROWS; applyFilter(); });
    if (more) more.addEventListener("click", function () { limit += ROWS * 5; applyFilter(); });
    applyFilter();
    var link = document.getElementById("compare-link");
    var picks = [];
    document.getElementById("leaderboard").addEventListener("change", function (event) {
      var box = event.target;
      if (!box.classList || !box.classList.contains("pick")) return;
      picks = picks.filter(function (s) { return s !== box.value; });
      if (box.checked) picks.push(box.value);
      link.href = "compare.html" + (picks.length ? "#e=" + picks.map(encodeURIComponent).join(",") : "");
      link.textContent = "Compare selected (" + picks.length + ")";
    });
  }

  var block = document.getElementById("examples-data");
  if (!block) return;
  var data = JSON.parse(block.textContent);
  var PAGE = 100;
  var el = function (id) { return document.getElementById(id); };
  var state = { page: 0, matches: [] };

  function option(select, value, label) {
    var o = document.createElement("option");
    o.value = value; o.textContent = label; select.appendChild(o);
  }
  data.tasks.forEach(function (t, i) { option(el("ex-task"), String(i), t.name); });

  function task() { return data.tasks[parseInt(el("ex-task").value || "0", 10)]; }
  function fillSeeds() {
    el("ex-seed").textContent = "";
    task().seeds.forEach(function (s) { option(el("ex-seed"), String(s), String(s)); });
  }
  function td(tr, text, cls) {
    var c = document.createElement("td");
    c.textContent = text === null || text === undefined ? "" : text;
    if (cls) c.className = cls;
    tr.appendChild(c);
    return c;
  }
  function refilter() {
    var t = task(), run = t.runs[el("ex-seed").value] || [];
    var errorsOnly = el("ex-errors").checked, subset = el("ex-subset").value;
    var needle = el("ex-search").value.trim().toLowerCase();
    state.matches = [];
    t.examples.forEach(function (ex, i) {
      var r = run[i] || [null, "", false, null];
      if (errorsOnly && r[2]) return;
      if (subset && ex[3].indexOf(subset) < 0) return;
      if (needle && (ex[1] + "\n" + ex[2] + "\n" + (r[0] || "")).toLowerCase().indexOf(needle) < 0) return;
      state.matches.push(i);
    });
    state.page = 0;
    render();
  }
  function render() {
    var t = task(), run = t.runs[el("ex-seed").value] || [];
    var body = el("examples").tBodies[0];
    body.textContent = "";
    var pages = Math.max(1, Math.ceil(state.matches.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    state.matches.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (i) {
      var ex = t.examples[i], r = run[i] || [null, "", false, null];
      var tr = document.createElement("tr");
      tr.className = r[2] ? "right" : "wrong";
      td(tr, ex[0], "id"); td(tr, ex[1]); td(tr, ex[2], "gold");
      td(tr, r[3] ? "[request failed: " + r[3] + "]" : r[0], "output"); td(tr, r[1], "parsed");
      td(tr, r[2] ? "✓" : "✗", "mark");
      body.appendChild(tr);
    });
    el("ex-count").textContent = state.matches.length + " of " + t.examples.length + " examples";
    el("ex-page").textContent = "page " + (state.page + 1) + " of " + pages;
    el("ex-prev").disabled = state.page === 0;
    el("ex-next").disabled = state.page >= pages - 1;
  }
  el("ex-task").addEventListener("change", function () { fillSeeds(); refilter(); });
  ["ex-seed", "ex-errors", "ex-subset"].forEach(function (id) { el(id).addEventListener("change", refilter); });
  el("ex-search").addEventListener("input", refilter);
  el("ex-prev").addEventListener("click", function () { state.page -= 1; render(); });
  el("ex-next").addEventListener("click", function () { state.page += 1; render(); });
  fillSeeds();
  refilter();
})();
