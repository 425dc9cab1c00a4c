"""The static site: built by the CLI from verified bundles, every submitted string escaped."""

from __future__ import annotations

import dataclasses
import json
import re

from fsabench.leaderboard.site import build_site, inline_json, render_index, table_rows
from tests.leaderboard.support import board, boards_dir, good_bundle_text, verifier

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


def test_build_cli_writes_a_self_contained_site(tmp_path, cli):
    lb = boards_dir(tmp_path)
    (lb / "fsa" / "submissions" / "lexicon-baseline.json").write_text(good_bundle_text())
    res = cli("leaderboard", "build", "fsa", "--out", tmp_path / "site", "--leaderboards-dir", lb)
    assert res.returncode == 0, res.stderr
    index = (tmp_path / "site" / "index.html").read_text()
    assert "Lexicon baseline" in index and 'href="models/lexicon-baseline.html"' in index
    for chart in ("scores", "subset-all", "subset-implicit", "subset-multi", "subset-hard"):  # report charts too
        assert (tmp_path / "site" / "assets" / f"{chart}.png").read_bytes()[:4] == b"\x89PNG"
        assert f'src="assets/{chart}.png"' in index
    page = (tmp_path / "site" / "models" / "lexicon-baseline.html").read_text()
    # the examples are inline (file:// cannot fetch JSON) and parse back
    block = re.search(r'<script type="application/json" id="examples-data">(.*?)</script>', page, re.S).group(1)
    data = json.loads(block)
    assert [t["name"] for t in data["tasks"]] == board().spec.tasks
    assert len(data["tasks"][0]["examples"]) == len(verifier().split("atsa-rest14").examples)
    assert "fetch(" not in (tmp_path / "site" / "assets" / "site.js").read_text()


def test_inline_json_cannot_close_its_script_block():
    payload = {"output": "</script><script>alert(1)</script> & <!--", "line": "\u2028"}
    text = inline_json(payload)
    assert not set("<>&\u2028") & set(text)
    assert json.loads(text) == payload


def test_every_submitted_string_is_escaped(tmp_path):
    verified = verifier().verify_bytes(good_bundle_text().encode(), "bundle.json")
    evil_row = {**verified.row, "name": EVIL, "base_model": EVIL, "license": EVIL, "notes": EVIL,
                "link": "javascript:alert(1)"}
    html = render_index(board(), table_rows(board(), [{**evil_row, "slug": "evil"}]))
    assert "<script>window" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    evil = dataclasses.replace(verified, slug="evil", row=evil_row)
    build_site(board(), [evil], tmp_path / "site")
    page = (tmp_path / "site" / "models" / "evil.html").read_text()
    assert "<script>window" not in page and "<img src=x" not in page
    assert 'href="javascript:' not in page
