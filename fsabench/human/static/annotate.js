// fsabench annotation page. Item text is only ever set with textContent (never innerHTML), so
// whatever an analysis holds shows as text. Every change is saved at once (PUT, in order).
"use strict";
(function () {
  const token = decodeURIComponent(location.pathname.split("/")[2] || "");
  const api = "/api/" + encodeURIComponent(token);
  const $ = (id) => document.getElementById(id);
  let rubric = null, items = [], answers = {}, idx = 0, active = 0, questions = [];
  let queue = Promise.resolve(), noteTimer = null, pending = 0;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  const item = () => items[idx];
  const spanDim = () => rubric.dimensions.find((d) => d.span && d.span.length);

  function answerOf(id) {
    if (!answers[id]) answers[id] = { values: {}, spans: {}, skipped: false, flagged: false, note: "", status: "open" };
    return answers[id];
  }

  function buildQuestions() {
    questions = [];
    for (const dim of rubric.dimensions) {
      if (dim.per === "target") item().targets.forEach((t, i) => questions.push({ dim, target: i, label: t }));
      else questions.push({ dim, target: null, label: null });
    }
  }

  function valueOf(q) {
    const v = answerOf(item().id).values[q.dim.name];
    if (q.target === null) return v === undefined ? null : v;
    return Array.isArray(v) ? v[q.target] : null;
  }

  function renderAnalysis() {
    const box = $("analysis"), text = item().analysis, dim = spanDim();
    const spans = dim ? (answerOf(item().id).spans[dim.name] || []).slice() : [];
    const order = spans.map((s, i) => [s, i]).sort((a, b) => a[0].start - b[0].start);
    box.textContent = "";
    let at = 0;
    for (const [s, i] of order) {
      if (s.start < at) continue;
      box.appendChild(document.createTextNode(text.slice(at, s.start)));
      const mark = el("mark", "", text.slice(s.start, s.end));
      mark.dataset.span = String(i);
      mark.title = "hallucination (click to remove)";
      box.appendChild(mark);
      at = s.end;
    }
    box.appendChild(document.createTextNode(text.slice(at)));
  }

  function renderQuestions() {
    const box = $("questions");
    box.textContent = "";
    const dim = spanDim();
    questions.forEach((q, qi) => {
      const div = el("div", "question" + (qi === active ? " active" : ""));
      div.dataset.q = String(qi);
      div.appendChild(el("div", "title", q.dim.title + (q.label !== null ? " — target " + (q.target + 1) : "")));
      if (q.label !== null) div.appendChild(el("div", "target", q.label));
      else div.appendChild(el("div", "target", q.dim.question));
      const choices = el("div", "choices");
      const current = valueOf(q);
      for (const c of q.dim.scale) {
        const b = el("button", current === c.value ? "picked" : "");
        b.type = "button";
        b.dataset.value = c.value;
        b.title = c.anchor;
        b.appendChild(el("kbd", "", c.key));
        b.appendChild(document.createTextNode(c.label));
        b.addEventListener("click", () => { active = qi; pick(c.value); });
        choices.appendChild(b);
      }
      div.appendChild(choices);
      if (dim && q.dim.name === dim.name && dim.span.includes(current) &&
          !(answerOf(item().id).spans[dim.name] || []).length)
        div.appendChild(el("div", "needs-span", "mark the offending span in the analysis (select it, press H)"));
      div.addEventListener("click", () => { active = qi; renderQuestions(); });
      box.appendChild(div);
    });
  }

  function renderProgress(p) {
    $("progress").max = p.total || 1;
    $("progress").value = p.done + p.skipped;
    $("progress-text").textContent = p.done + " done, " + p.skipped + " skipped of " + p.total;
  }

  function render() {
    const a = answerOf(item().id);
    $("review").textContent = item().review;
    renderAnalysis();
    renderQuestions();
    $("note").value = a.note || "";
    $("position").textContent = "item " + (idx + 1) + " of " + items.length;
    $("item-status").textContent = a.status + (a.flagged ? " · flagged" : "");
    document.body.classList.toggle("flagged", !!a.flagged);
    document.body.classList.toggle("skipped", !!a.skipped);
  }

  function save() {
    const id = item().id, a = answerOf(id);
    const body = JSON.stringify({ values: a.values, spans: a.spans, skipped: a.skipped, flagged: a.flagged, note: a.note });
    $("saved").textContent = "saving…";
    pending += 1;
    queue = queue.then(() => fetch(api + "/answers/" + encodeURIComponent(id), {
      method: "PUT", headers: { "Content-Type": "application/json" }, body,
    }).then((r) => r.json().then((j) => ({ ok: r.ok, j }))).then(({ ok, j }) => {
      if (!ok) { const err = new Error(j.detail || "refused"); err.refused = true; throw err; }
      a.status = j.status;
      renderProgress(j.progress);
      pending -= 1;
      $("saved").className = "";
      $("saved").textContent = pending ? "saving…" : "saved ✓";
      if (item().id === id) $("item-status").textContent = a.status + (a.flagged ? " · flagged" : "");
    }).catch((e) => {
      pending -= 1;
      $("saved").className = "error";
      $("saved").textContent = "NOT saved: " + e.message + (e.refused ? "" : " (retrying)");
      if (!e.refused) setTimeout(() => { if (item().id === id) save(); }, 2000);
    }));
  }

  function pick(value) {
    const q = questions[active], a = answerOf(item().id);
    if (q.target === null) a.values[q.dim.name] = value;
    else {
      const list = Array.isArray(a.values[q.dim.name]) ? a.values[q.dim.name] : item().targets.map(() => null);
      list[q.target] = value;
      a.values[q.dim.name] = list;
    }
    if (a.skipped) a.skipped = false;
    if (active < questions.length - 1) active += 1;
    save();
    render();
  }

  function go(step) {
    const next = idx + step;
    if (next < 0 || next >= items.length) return;
    idx = next;
    active = 0;
    buildQuestions();
    render();
    window.scrollTo(0, 0);
  }

  function offsetIn(root, node, offset) {
    const range = document.createRange();
    range.setStart(root, 0);
    range.setEnd(node, offset);
    return range.toString().length;
  }

  function markSpan() {
    const dim = spanDim(), box = $("analysis"), sel = window.getSelection();
    if (!dim || !sel || sel.rangeCount === 0 || sel.isCollapsed) return;
    const r = sel.getRangeAt(0);
    if (!box.contains(r.startContainer) || !box.contains(r.endContainer)) return;
    const start = offsetIn(box, r.startContainer, r.startOffset), end = offsetIn(box, r.endContainer, r.endOffset);
    if (end <= start) return;
    const a = answerOf(item().id);
    a.spans[dim.name] = (a.spans[dim.name] || []).concat([{ start, end, text: item().analysis.slice(start, end) }]);
    if (!dim.span.includes(a.values[dim.name])) a.values[dim.name] = dim.span[0];
    sel.removeAllRanges();
    save();
    render();
  }

  function toggle(field) {
    const a = answerOf(item().id);
    a[field] = !a[field];
    save();
    render();
  }

  document.addEventListener("keydown", (e) => {
    if (!rubric || e.target.tagName === "TEXTAREA" || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    let handled = true;
    if (key === "ArrowDown") active = Math.min(active + 1, questions.length - 1);
    else if (key === "ArrowUp") active = Math.max(active - 1, 0);
    else if (key === "ArrowRight") go(1);
    else if (key === "ArrowLeft") go(-1);
    else if (key === "s") toggle("skipped");
    else if (key === "f") toggle("flagged");
    else if (key === "h") markSpan();
    else if (key === "?") { const d = document.querySelector("details"); d.open = !d.open; }
    else {
      const choice = questions[active].dim.scale.find((c) => c.key.toLowerCase() === key);
      if (choice) pick(choice.value); else handled = false;
    }
    if (handled) { e.preventDefault(); renderQuestions(); }
  });

  $("analysis").addEventListener("click", (e) => {
    const mark = e.target.closest("mark");
    if (!mark) return;
    const dim = spanDim(), a = answerOf(item().id);
    a.spans[dim.name].splice(Number(mark.dataset.span), 1);
    save();
    render();
  });
  $("prev").addEventListener("click", () => go(-1));
  $("next").addEventListener("click", () => go(1));
  $("skip").addEventListener("click", () => toggle("skipped"));
  $("flag").addEventListener("click", () => toggle("flagged"));
  $("mark").addEventListener("mousedown", (e) => e.preventDefault());  // keep the text selection
  $("mark").addEventListener("click", markSpan);
  $("note").addEventListener("input", () => {
    answerOf(item().id).note = $("note").value;
    clearTimeout(noteTimer);
    noteTimer = setTimeout(save, 500);
  });

  fetch(api + "/state").then((r) => {
    if (!r.ok) throw new Error("unknown link");
    return r.json();
  }).then((s) => {
    rubric = s.rubric;
    items = s.items;
    answers = s.answers;
    const first = items.findIndex((it) => !answers[it.id] || !["done", "skipped"].includes(answers[it.id].status));
    idx = first < 0 ? 0 : first;
    buildQuestions();
    renderProgress(s.progress);
    render();
    document.body.dataset.ready = "1";
  }).catch((e) => { $("progress-text").textContent = "cannot load: " + e.message; });
})();
