"""`fsabench report` end to end: files per format, determinism, a self-contained HTML page, errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _fsa_only(report_runs: Path, tmp_path: Path) -> Path:
    """A smaller input (three models on atsa-rest14) to keep figure rendering quick."""
    runs = tmp_path / "runs"
    for model in ("baseline_lexicon", "test_llm-7b", "test_student-220m"):
        for path in (report_runs / model).glob("atsa-rest14__seed*.json"):
            (runs / model).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, runs / model / path.name)
    return runs


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_paper_preset_is_byte_identical_across_builds(report_runs, tmp_path, cli):
    runs = _fsa_only(report_runs, tmp_path)
    first = cli("report", runs, "--out", tmp_path / "a", "--preset", "paper", "--baseline", "baseline:lexicon",
                "--bootstrap", "200")
    assert first.returncode == 0, first.stderr
    assert "rows mix protocols" in first.stderr
    second = subprocess.run([sys.executable, ROOT / "scripts" / "paper_figures.py", runs, "--out", tmp_path / "b",
                             "--baseline", "baseline:lexicon", "--bootstrap", "200"], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert list(a) == list(b) and a == b
    names = set(a)
    assert {"report.md", "report.tex", "report.html", "report.json", "summary.csv", "runs.csv", "tests.csv"} <= names
    for kind in ("bars", "params", "cost", "seeds", "drop", "confusion"):
        assert {f"figures/{kind}-atsa-rest14.{ext}" for ext in ("png", "svg", "pdf")} <= names
    assert b"CreationDate" not in a["figures/bars-atsa-rest14.pdf"]
    assert b"<dc:date>" not in a["figures/bars-atsa-rest14.svg"]
    md = a["report.md"].decode()
    assert "### F1 per task ('implicit' subset)" in md and "### Paired bootstrap tests ('all' subset)" in md
    assert "(figures/confusion-atsa-rest14.png)" in md


def test_default_build_html_is_self_contained_and_escaped(report_runs, tmp_path, cli):
    runs = _fsa_only(report_runs, tmp_path)
    for seed in (1, 2):
        p = runs / "test_llm-7b" / f"atsa-rest14__seed{seed}.json"
        payload = json.loads(p.read_text())
        payload["model"]["name"] = "<script>alert(1)</script>"
        p.write_text(json.dumps(payload))
    res = cli("report", runs, "--out", runs / "report", "--format", "html,md,json", "--figures", "none",
              "--bootstrap", "100", "--json")
    assert res.returncode == 0, res.stderr
    res = cli("report", runs, "--out", runs / "report", "--format", "html,md", "--figures", "none",
              "--bootstrap", "100", "--json")  # its own earlier output inside the runs folder is skipped
    assert res.returncode == 0, res.stderr
    written = json.loads(res.stdout)["files"]
    assert sorted(Path(f).name for f in written) == ["report.html", "report.md"]
    html = (runs / "report" / "report.html").read_text()
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == 6 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(?!data:|#)', html) and "<link" not in html
    assert not (runs / "report" / "figures").exists()


@pytest.mark.parametrize("args, message", [
    (["--format", "md,docx"], "unknown report format 'docx'"),
    (["--baseline", "gpt-9"], "unknown baseline model 'gpt-9'"),
    (["--preset", "poster"], "unknown report preset 'poster'"),
])
def test_bad_options_are_one_line_errors(report_runs, tmp_path, cli, args, message):
    res = cli("report", report_runs, "--out", tmp_path / "out", "--figures", "none", *args)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and message in res.stderr


def test_truncated_result_file_is_a_one_line_error_naming_it(tmp_path, cli):
    bad = tmp_path / "runs" / "m" / "atsa-rest14.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"schema_version": 1, "task": {')
    res = cli("report", tmp_path / "runs", "--out", tmp_path / "out")
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    assert res.stderr.startswith(f"error: {bad}: not valid JSON")
    empty = cli("report", tmp_path / "out-missing", "--out", tmp_path / "out")
    assert empty.returncode == 1 and "no such file or folder" in empty.stderr
