"""Screenshot of a built leaderboard site's table (audit badges, ties, intervals) for the docs.

    fsabench leaderboard build fsa -o /tmp/site && python scripts/leaderboard_screenshot.py /tmp/site docs/leaderboard-audits.png

Uses Debian's chromium through Playwright (scripts/install_browser.sh); writes a small PNG.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def main(site: Path, out: Path, width: int = 1300) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto((site / "index.html").resolve().as_uri())
        box = page.locator("#leaderboard").bounding_box()
        top = page.locator("h1").bounding_box()
        page.screenshot(path=str(out), clip={"x": 0, "y": top["y"] - 8, "width": width,
                                             "height": box["y"] + box["height"] - top["y"] + 16})
        browser.close()
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
