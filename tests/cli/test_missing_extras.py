"""Issue 22, class 14: on the core install a missing extra names itself, and text reports still work."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

CORE = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # what the core install lacks: importing it raises ImportError
from fsabench.cli import main
main({argv!r})
"""
EXTRA_MODULES = ["matplotlib", "fastapi", "starlette", "uvicorn", "h11", "krippendorff", "litellm", "aiohttp", "httpx",
                 "torch", "transformers", "ray", "lm_eval"]


def core(*argv: str) -> subprocess.CompletedProcess:
    code = CORE.format(blocked=EXTRA_MODULES, argv=[str(a) for a in argv])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    done = subprocess.run([sys.executable, "-m", "fsabench.cli", "run", "-m", "baseline:lexicon", "-t", "sc-sst2",
                           "--limit", "5", "-o", str(out), "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out


def test_report_md_csv_works_on_the_core_install(runs, tmp_path):
    done = core("report", runs, "-o", tmp_path / "rep", "--format", "md,csv")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rep" / "report.md").is_file()
    assert "figures were not drawn: matplotlib is not installed (pip install 'fsabench[report]')" in done.stdout + done.stderr


@pytest.mark.parametrize("argv, extra", [
    (["report", "{runs}", "-o", "{tmp}/r", "--figures", "pdf", "--format", "md"], "report"),
    (["leaderboard", "serve", "fsa", "--port", "0"], "leaderboard"),
    (["leaderboard", "build", "fsa", "-o", "{tmp}/site"], "leaderboard"),
    (["human", "serve", "{tmp}"], "human"),
    (["run", "-m", "litellm:openai/gpt-4o-mini", "-t", "sc-sst2", "--limit", "1", "-o", "{tmp}/o"], "api"),
    (["run", "-m", "openai-compat:http://127.0.0.1:9/v1#m", "-t", "sc-sst2", "--limit", "1", "-o", "{tmp}/o"], "api"),
    (["run", "-m", "hf:google-t5/t5-small", "-t", "sc-sst2", "--limit", "1", "-o", "{tmp}/o"], "hf"),
    (["serve", "-m", "hf:google-t5/t5-small", "--port", "0"], "serve"),
])
def test_a_missing_extra_is_one_line_naming_it(runs, tmp_path, argv, extra):
    (tmp_path / "study.json").write_text(json.dumps({}))
    done = core(*[a.format(runs=runs, tmp=tmp_path) for a in argv])
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"pip install 'fsabench[{extra}]'" in last, done.stderr
    assert "internal error" not in done.stderr
