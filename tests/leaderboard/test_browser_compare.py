"""The site in Debian's chromium (Playwright) from file://: statistical ranks with ties, the
per-example comparison view with its state in the URL, and a 1,000-entry x 4-task board whose
filter, sort and comparison stay under 200 ms."""

from __future__ import annotations

import datetime as dt
import random
import shutil

import pytest

from fsabench.leaderboard.site import (ASSETS, TEMPLATES, build_site, compare_payload, longest_runs,
                                       prediction_script, render_compare, render_index, table_rows)
from tests.leaderboard.test_browser import ARGS, CHROMIUM, rerun, verified
from tests.leaderboard.support import board

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: run scripts/install_browser.sh")]
BUILT = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
AUDITED = {"status": "passed", "badge": "audited: 8/8 identical, 2026-01-04", "date": "2026-01-04", "n": 8,
           "identical": 8, "f1_submitted": 30.0, "f1_reproduced": 30.0, "agreement_f1": 100.0, "sample": 8,
           "seed": 0, "identity_mismatch": []}


@pytest.fixture(scope="module")
def entries():
    """A (the lexicon's outputs, a few answered with the gold), B (the lexicon's outputs, a few others
    answered with the gold: statistically tied with A) and C (answers nothing: clearly worse), all
    zero-shot and audited."""
    a = verified("Model A", "zero-shot", rerun(lambda i, o, e: e.target if i % 40 == 0 else o, "zero-shot"))
    b = verified("Model B", "zero-shot", rerun(lambda i, o, e: e.target if i % 40 == 20 else o, "zero-shot"))
    c = verified("Model C", "zero-shot", rerun(lambda i, o, e: "", "zero-shot"))
    for e in (a, b, c):
        e.row["audit"] = dict(AUDITED)
    return [a, b, c]


@pytest.fixture(scope="module")
def site(entries, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    build_site(board(), entries, out, built=BUILT)
    return out


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser.new_page(viewport={"width": 1300, "height": 900})
        browser.close()


def test_ranks_show_intervals_and_ties_and_are_deterministic(entries, site, page, tmp_path):
    page.goto((site / "index.html").as_uri())
    ranks = page.eval_on_selector_all("#leaderboard tbody td.rank", "cells => cells.map(c => c.innerText.trim())")
    assert ranks[0] == "1" and ranks[1].replace("\n", " ") == "2 tied with #1" and ranks[2] == "3"
    assert "paired bootstrap" in page.text_content("#rank-method")
    score_cell = page.inner_text("#leaderboard tbody tr:first-child td:nth-child(5)")
    score, interval = score_cell.split("\n")
    low, high = (float(v) for v in interval.split("–"))
    assert low < float(score) < high
    assert page.locator(".badge.audit-passed").count() == 3
    again = tmp_path / "again"
    build_site(board(), entries, again, built=BUILT)
    assert (again / "index.html").read_text() == (site / "index.html").read_text()  # same ties, same intervals


def test_comparison_view_filters_a_right_b_wrong_and_keeps_state_in_the_url(entries, site, page):
    a, b = (next(r for r in e.results if r.task.name == "atsa-rest14") for e in entries[:2])
    ok = lambda r: sorted(map(tuple, r.prediction)) == sorted(map(tuple, r.gold))  # noqa: E731
    expected = [x.id for x, y in zip(a.examples, b.examples) if ok(x) and not ok(y)]
    implicit = [x.id for x, y in zip(a.examples, b.examples) if ok(x) and not ok(y) and "implicit" in x.subsets]
    assert expected and len(implicit) < len(expected)

    page.goto((site / "index.html").as_uri())
    page.check("input.pick[value=model-a]")
    page.check("input.pick[value=model-b]")
    assert page.get_attribute("#compare-link", "href") == "compare.html#e=model-a,model-b"
    url = (site / "compare.html").as_uri() + "#e=model-a,model-b&task=atsa-rest14&show=a-not-b"
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    ids = page.eval_on_selector_all("#compare tbody td.id", "cells => cells.map(c => c.textContent)")
    assert ids == expected[:100]
    heads = page.eval_on_selector_all("#cmp-head th", "cells => cells.map(c => c.textContent)")
    assert heads == ["id", "sentence", "gold", "A: Model A", "B: Model B"]
    assert page.eval_on_selector_all("#compare tbody tr td:nth-child(4)", "c => c.map(x => x.className)") == ["right"] * len(ids)
    page.select_option("#cmp-subset", "implicit")
    page.wait_for_selector("body[data-ready='1']")
    assert "subset=implicit" in page.url and "show=a-not-b" in page.url
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)  # a shared link restores the same view
    page.wait_for_selector("body[data-ready='1']")
    assert page.eval_on_selector_all("#compare tbody td.id", "c => c.map(x => x.textContent)") == implicit[:100]
    assert page.input_value("#cmp-subset") == "implicit" and page.input_value("#cmp-filter") == "a-not-b"


def big_site(entries, out):
    """1,000 entries x 4 tasks (rows made from a real row with random scores) plus the comparison page."""
    rng = random.Random(0)
    template = {k: v for k, v in entries[0].row.items() if k != "counts"}
    rows = []
    for i in range(1000):
        tasks = {t: {s: {"mean": round(rng.uniform(0, 80), 2), "std": None, "seeds": 1} for s in board().spec.subsets}
                 for t in board().spec.tasks}
        rows.append({**template, "name": f"Model {i:04d}", "slug": f"model-{i:04d}", "tasks": tasks,
                     "score": round(sum(tasks[t]["all"]["mean"] for t in tasks) / 4, 2),
                     "category": rng.choice(["zero-shot", "few-shot", "fine-tuned"]), "flags": [],
                     "fingerprint": f"synthetic-{i}"})
    rows.extend({**e.row, "slug": e.slug} for e in entries)
    (out / "assets" / "preds").mkdir(parents=True)
    for asset in ASSETS:
        shutil.copyfile(TEMPLATES / asset, out / "assets" / asset)
    (out / "index.html").write_text(render_index(board(), table_rows(board(), rows), built=BUILT))
    for e in entries:
        (out / "assets" / "preds" / f"{e.slug}.js").write_text(prediction_script(e.slug, e.results))
    payload = compare_payload([{"slug": r["slug"], "name": r["name"]} for r in rows],
                              longest_runs([r for e in entries for r in e.results]))
    (out / "compare.html").write_text(render_compare(board(), payload, BUILT))


TIMED = """([selector, action]) => {
  const t0 = performance.now();
  if (action === 'click') document.querySelector(selector).click();
  else { const el = document.querySelector(selector); el.value = action; el.dispatchEvent(new Event('change')); }
  document.body.offsetHeight;  // force layout
  return performance.now() - t0;
}"""


def test_the_url_order_is_the_a_b_order(entries, site, page):
    """Issue 22 class 15: compare.html#e=model-b,model-a puts B first (it took the list's order)."""
    page.goto((site / "compare.html").as_uri() + "#e=model-b,model-a&task=atsa-rest14")
    page.wait_for_selector("body[data-ready='1']")
    heads = page.eval_on_selector_all("#cmp-head th", "cells => cells.map(c => c.textContent)")
    assert heads[3:] == ["A: Model B", "B: Model A"]
    assert page.text_content("#cmp-ab") == "A = Model B, B = Model A"
    assert "e=model-b,model-a" in page.url


def test_thousand_entries_filter_sort_and_compare_under_200_ms(entries, page, tmp_path):
    big_site(entries, tmp_path)
    page.goto((tmp_path / "index.html").as_uri())
    assert page.text_content("#row-count") == "1003 entries (first 100 shown)"  # the rest behind "show more"
    assert page.locator("#leaderboard tbody tr:not([hidden])").count() == 100
    timings = {
        "sort by score": page.evaluate(TIMED, ["#leaderboard th:nth-child(5) button", "click"]),
        "sort by name": page.evaluate(TIMED, ["#leaderboard th:nth-child(2) button", "click"]),
        "filter category": page.evaluate(TIMED, ["#category-filter", "few-shot"]),
    }
    assert 0 < int(page.text_content("#row-count").split()[0]) < 1003
    page.select_option("#category-filter", "")
    page.click("#show-more")
    assert page.locator("#leaderboard tbody tr:not([hidden])").count() == 600
    page.goto((tmp_path / "compare.html").as_uri() + "#e=model-a,model-b,model-c&task=atsa-rest14")
    page.wait_for_selector("body[data-ready='1']")
    timings["compare: A right, B wrong"] = page.evaluate(TIMED, ["#cmp-filter", "a-not-b"])
    timings["compare: change task"] = page.evaluate(TIMED, ["#cmp-task", "acsa-rest16"])
    print(timings)
    assert all(ms < 200 for ms in timings.values()), timings


def test_comparison_view_in_the_service(page, tmp_path):
    """The same comparison page from `fsabench leaderboard serve` (its prediction scripts come from the store)."""
    import threading

    from fsabench.leaderboard.service import ServiceConfig, make_server, token_digest
    from tests.conftest import DATA_DIR
    from tests.leaderboard.test_service import TOKEN, post
    from tests.leaderboard.support import good_bundle_text

    srv = make_server(board(), DATA_DIR, "127.0.0.1", 0, tmp_path / "lb.sqlite3", {token_digest(TOKEN)},
                      ServiceConfig(max_body=board().spec.limits.max_submission_bytes, quiet=True))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        assert post(port, good_bundle_text().encode())[0] == 201
        assert post(port, good_bundle_text("Lexicon copy").encode())[0] == 201
        page.goto(f"http://127.0.0.1:{port}/compare.html#e=lexicon-baseline,lexicon-copy&task=acsa-rest16&show=differ")
        page.wait_for_selector("body[data-ready='1']")
        assert page.text_content("#cmp-count").startswith("0 of ")  # the same outputs: they never disagree
        page.select_option("#cmp-filter", "")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#compare tbody tr").count() == 100
        index = page.goto(f"http://127.0.0.1:{port}/")
        assert index.ok and "identical outputs to" in page.content()
    finally:
        srv.shutdown()
        srv.server_close()
        srv.app.store.close()
