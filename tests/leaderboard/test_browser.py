"""A real headless browser (Debian's chromium, driven by Playwright) on the built site from file://:
sorting by clicking, filtering by category, a screenshot, and a <script> in a model name that never runs.

scripts/install_browser.sh installs chromium (apt-get); Playwright comes with the `dev` extra.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from fsabench.leaderboard.site import build_site
from fsabench.leaderboard.submission import EntryInfo, build_bundle, bundle_json
from fsabench.scoring import score_record, score_records
from tests.leaderboard.support import board, good_bundle_text, results, verifier

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: run scripts/install_browser.sh")]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EVIL_NAME = '<script>window.__pwned=1;alert(1)</script><img src=x onerror="window.__pwned=2">'
EVIL_OUTPUT = '</script><script>window.__pwned=3</script><img src=x onerror="window.__pwned=4">'


def rerun(edit, protocol: str, shots: int = 0) -> list:
    """The lexicon runs with edited outputs as an instruction model's, with the chat prompts `fsabench run`
    would send (the verifier re-renders them), scored by the same code as `fsabench run` (honest scores)."""
    from fsabench.prompts import build_requests
    from fsabench.results import ModelInfo

    out = []
    for result in results():
        spec, split = board().tasks[result.task.name], verifier().split(result.task.name)
        outputs = {r.id: r.output for r in result.examples}
        requests = build_requests(spec, split.examples, "chat", verifier().train(result.task.name), shots, 0)
        records = [score_record(spec, e, edit(i, outputs[e.id], e), prompt=list(q.messages))
                   for i, (e, q) in enumerate(zip(split.examples, requests))]
        model = ModelInfo(name=f"hf:./{protocol}-model", scheme="hf", identity={"model": f"./{protocol}-model"})
        out.append(result.model_copy(update={"examples": records, "scores": score_records(spec, records),
                                             "protocol": protocol, "model": model,
                                             "meta": {**result.meta, "num_shots": shots}}))
    return out


def verified(name: str, category: str, runs: list):
    entry = EntryInfo(name=name, category=category, date="2026-01-03", parameters=7_000_000_000)
    return verifier().verify_bytes(bundle_json(build_bundle("fsa", entry, runs)).encode(), name)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    lexicon = verifier().verify_bytes(good_bundle_text().encode(), "lexicon")
    echo = verified("Echo model", "zero-shot", rerun(lambda i, o, e: EVIL_OUTPUT if i % 7 == 0 else o, "zero-shot"))
    silent = verified("Silent model", "few-shot", rerun(lambda i, o, e: "", "few-shot", shots=2))
    # a name that verification would refuse, forced in anyway: the site must still only show it as text
    evil = dataclasses.replace(silent, slug="evil", row={**silent.row, "name": EVIL_NAME})
    out = tmp_path_factory.mktemp("site")
    build_site(board(), [lexicon, echo, evil], out)
    return out


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page(viewport={"width": 1300, "height": 900})
        tab.dialogs = []
        tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
        yield tab
        browser.close()


def column(tab, index: int) -> list[str]:
    """The cell's own value: the model name link, or the first text (not the badges or the interval below)."""
    return tab.eval_on_selector_all(f"#leaderboard tbody tr:not([hidden]) td:nth-child({index})",
                                    "cells => cells.map(c => (c.querySelector('a.model') || c.firstChild || c)"
                                    ".textContent.trim())")


def test_sort_filter_screenshot_and_no_script_runs(site, page, tmp_path):
    page.goto((site / "index.html").as_uri())
    names = column(page, 2)
    assert len(names) == 3 and names[0].startswith("Lexicon baseline")

    page.click("#leaderboard th:nth-child(5) button")  # Avg F1: first click sorts best first
    scores = [float(v) for v in column(page, 5)]
    assert scores == sorted(scores, reverse=True) and scores[-1] == 0.0
    assert page.get_attribute("#leaderboard th:nth-child(5)", "aria-sort") == "descending"
    page.click("#leaderboard th:nth-child(5) button")
    assert [float(v) for v in column(page, 5)] == sorted(scores)
    page.click("#leaderboard th:nth-child(2) button")  # Model: alphabetical
    names = column(page, 2)
    assert names == sorted(names, key=str.lower) and names[0] == EVIL_NAME  # '<' sorts first; shown as text

    page.select_option("#category-filter", "zero-shot")
    assert column(page, 2) == ["Echo model"]
    assert page.text_content("#row-count") == "1 entry"
    page.select_option("#category-filter", "")
    assert len(column(page, 2)) == 3

    shot = tmp_path / "leaderboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    page.goto((site / "models" / "evil.html").as_uri())
    assert page.text_content("#model-name") == EVIL_NAME
    page.goto((site / "models" / "echo-model.html").as_uri())
    page.check("#ex-errors")
    page.fill("#ex-search", "onerror")
    assert page.text_content("#examples tbody tr:first-child td.output") == EVIL_OUTPUT
    assert page.text_content("#ex-count").endswith("of 1140 examples")
    assert page.evaluate("window.__pwned") is None and page.dialogs == []
    assert page.locator("img[src=x]").count() == 0


def test_example_browser_filters_to_errors(site, page):
    page.goto((site / "models" / "lexicon-baseline.html").as_uri())
    total = len(verifier().split("atsa-rest14").examples)
    assert page.text_content("#ex-count") == f"{total} of {total} examples"
    page.check("#ex-errors")
    shown = int(page.text_content("#ex-count").split()[0])
    assert 0 < shown < total
    marks = page.eval_on_selector_all("#examples tbody td.mark", "cells => cells.map(c => c.textContent)")
    assert marks and set(marks) == {"✗"}
    page.select_option("#ex-task", label="acsa-rest16")
    assert page.text_content("#examples tbody tr:first-child td.gold")  # gold shown beside the output
    data = json.loads(page.text_content("#examples-data"))
    assert [t["name"] for t in data["tasks"]] == board().spec.tasks
