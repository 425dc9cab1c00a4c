"""One `Limits`: the web servers' (fsabench.web); a leaderboard's submission bounds are SubmissionLimits."""

from __future__ import annotations

from pathlib import Path

from fsabench.leaderboard.spec import Limits, SubmissionLimits, load_leaderboard
from fsabench.web import Limits as WebLimits

ROOT = Path(__file__).resolve().parents[2]
BOARD = sorted(p.name for p in (ROOT / "leaderboards").iterdir() if (p / "leaderboard.yaml").is_file())[0]


def test_one_limits_name():
    assert isinstance(load_leaderboard(BOARD, ROOT / "leaderboards").spec.limits, SubmissionLimits)
    assert Limits is SubmissionLimits and SubmissionLimits.__name__ == "SubmissionLimits"
    assert WebLimits.__module__ == "fsabench.web.limits"
