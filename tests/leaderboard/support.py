"""Shared helpers for the leaderboard tests (plain functions, cached per process; no tests here).

The runs are real: baseline:lexicon on the full test sets of the fsa leaderboard's four tasks.
"""

from __future__ import annotations

import atexit
import json
import shutil
import socket
import tempfile
from functools import lru_cache
from pathlib import Path

from tests.conftest import DATA_DIR, ROOT

BOARD_YAML = ROOT / "leaderboards" / "fsa" / "leaderboard.yaml"


@lru_cache(maxsize=None)
def lexicon_runs() -> Path:
    """A folder of baseline:lexicon RunResults for atsa-rest14, atsa-laptop14, acsa-rest16, acsa-laptop16."""
    from fsabench.models import load_model
    from fsabench.results import result_path, save_result
    from fsabench.runner import run_task
    from fsabench.tasks.registry import build_registry

    out = Path(tempfile.mkdtemp(prefix="fsabench-lb-runs-"))
    atexit.register(shutil.rmtree, out, True)
    registry = build_registry()
    adapter = load_model("baseline:lexicon")
    for task in registry.expand(["fsa"]):
        save_result(run_task(registry.spec(task), adapter, DATA_DIR), result_path(out, adapter.name, task))
    return out / "baseline_lexicon"


def boards_dir(tmp_path: Path) -> Path:
    """A leaderboards folder holding a copy of the fsa leaderboard.yaml and no submissions."""
    folder = tmp_path / "leaderboards"
    (folder / "fsa" / "submissions").mkdir(parents=True)
    shutil.copyfile(BOARD_YAML, folder / "fsa" / "leaderboard.yaml")
    return folder


@lru_cache(maxsize=None)
def board():
    from fsabench.leaderboard.spec import load_leaderboard

    return load_leaderboard("fsa", ROOT / "leaderboards")


@lru_cache(maxsize=None)
def verifier():
    from fsabench.leaderboard.verify import Verifier

    return Verifier(board(), DATA_DIR)


def results(folder: Path | None = None) -> list:
    from fsabench.results import find_results, load_result

    return [load_result(p) for p in find_results([folder or lexicon_runs()])]


@lru_cache(maxsize=None)
def good_bundle_text(name: str = "Lexicon baseline") -> str:
    """A valid bundle (the exact text `fsabench leaderboard submit` writes)."""
    import datetime as dt

    from fsabench.leaderboard.submission import EntryInfo, build_bundle, bundle_json

    entry = EntryInfo(name=name, parameters=0, category="baseline", date=dt.date(2026, 1, 2),
                      license="Apache-2.0", link="https://example.org/lexicon")
    return bundle_json(build_bundle("fsa", entry, results()))


def good_bundle() -> dict:
    """A fresh, mutable copy of the valid bundle as a dict."""
    return json.loads(good_bundle_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
