"""The annotation page in a real headless browser (Debian chromium driven by Playwright) against the
real `fsabench human serve` process: annotate with keyboard and mouse, mark a hallucination span,
kill -9 the server, start it again, reload, and find every answer; an analysis holding <script>
shows as text and never runs.

scripts/install_browser.sh installs chromium (apt-get); Playwright comes with the `dev` extra.
Set FSABENCH_SCREENSHOT=docs/human-annotate.png to refresh the screenshot in the docs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fsabench.human.study import create_study

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: run scripts/install_browser.sh")]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def analysis(first: str, second: str, extra: str = "") -> str:
    return (f'Opinion Target 1: "{first}"\nAspect: Taste\nSentiment: Positive\nReasoning: The reviewer loved the '
            f'{first}, calling it crispy.{extra}\n\nOpinion Target 2: "{second}"\nAspect: Service\n'
            f'Sentiment: Negative\nReasoning: The {second} was slow.')


ROWS = [
    {"ID": 1, "Text": "The fries were great but the waiter was slow.", "Overall": 3,
     "mixtral_response": analysis("fries", "waiter")},
    {"ID": 2, "Text": "Loved the <b>pizza</b>; the staff were slow.", "Overall": 3,
     "mixtral_response": analysis("pizza", "staff", " " + EVIL)},
    {"ID": 3, "Text": "Tasty soup, rude host.", "Overall": 2, "mixtral_response": analysis("soup", "host")},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(study: Path, port: int) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "fsabench"
    proc = subprocess.Popen([str(exe), "human", "serve", str(study), "--port", str(port), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    assert line.startswith("READY"), line
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


@pytest.fixture
def study(tmp_path):
    corpus = tmp_path / "teacher.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return create_study(tmp_path / "study", [corpus], "analysis", None, 2, ["ana", "ben"], 5)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def picked(page) -> list[str]:
    return page.eval_on_selector_all(".question", "qs => qs.map(q => (q.querySelector('button.picked') || "
                                                  "{dataset: {value: ''}}).dataset.value)")


def wait_saved(page) -> None:
    page.wait_for_function("() => document.getElementById('saved').textContent === 'saved ✓'")


def test_annotate_with_keyboard_and_mouse_survives_kill_9(study, browser, tmp_path):
    port = free_port()
    server = start_server(study.folder, port)
    link = f"http://127.0.0.1:{port}/a/{study.tokens()['ana']}"
    page = browser.new_page(viewport={"width": 1200, "height": 760})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(link)
        page.wait_for_selector("body[data-ready='1']")
        assert page.inner_text("#position") == "item 1 of 3"
        # item 1, keyboard only: two targets, reasoning, persuasiveness, hallucination
        for key in ("r", "p", "4", "3", "n"):
            page.keyboard.press(key)
        wait_saved(page)
        assert picked(page) == ["right", "partly", "4", "3", "none"]
        assert "1 done" in page.inner_text("#progress-text")
        # item 2 (→), mouse only: click answers, select words in the analysis and mark them
        page.keyboard.press("ArrowRight")
        page.click(".question:nth-child(1) button[data-value='wrong']")
        page.click(".question:nth-child(2) button[data-value='right']")
        page.click(".question:nth-child(3) button[data-value='2']")
        page.click(".question:nth-child(4) button[data-value='5']")
        page.evaluate("""() => {
            const node = document.getElementById('analysis').firstChild, at = node.textContent.indexOf('crispy');
            const r = document.createRange(); r.setStart(node, at); r.setEnd(node, at + 6);
            getSelection().removeAllRanges(); getSelection().addRange(r); }""")
        page.click("#mark")
        wait_saved(page)
        assert page.inner_text("#analysis mark") == "crispy"
        assert picked(page) == ["wrong", "right", "2", "5", "minor"]
        # item 3: flag it with F, skip it with S
        page.keyboard.press("ArrowRight")
        page.keyboard.press("f")
        page.keyboard.press("s")
        wait_saved(page)
        assert "skipped" in page.inner_text("#item-status") and "flagged" in page.inner_text("#item-status")
        # whichever item holds <script>, it shows as text and never runs
        for _ in range(3):
            if "<script>" in page.inner_text("#analysis"):
                break
            page.keyboard.press("ArrowLeft")
        assert EVIL in page.inner_text("#analysis")
        assert "<b>pizza</b>" in page.inner_text("#review")
        assert page.query_selector("#analysis img") is None and page.query_selector("#review b") is None
        assert page.evaluate("window.__pwned") is None and dialogs == []
        shot = page.screenshot()
        assert shot[:4] == b"\x89PNG"
        if os.environ.get("FSABENCH_SCREENSHOT"):
            Path(os.environ["FSABENCH_SCREENSHOT"]).write_bytes(shot)

        # kill -9 loses nothing that was saved: start again, reload, find every answer
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        server = start_server(study.folder, port)
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        assert "2 done, 1 skipped of 3" in page.inner_text("#progress-text")
        while page.inner_text("#position") != "item 1 of 3":
            page.keyboard.press("ArrowLeft")
        assert picked(page) == ["right", "partly", "4", "3", "none"]
        page.keyboard.press("ArrowRight")
        assert picked(page) == ["wrong", "right", "2", "5", "minor"]
        assert page.inner_text("#analysis mark") == "crispy"
        # clicking the mark removes the span; the answer now lacks its span and is open again
        page.click("#analysis mark")
        wait_saved(page)
        assert page.query_selector("#analysis mark") is None and "open" in page.inner_text("#item-status")
    finally:
        server.kill()
        server.wait(10)
