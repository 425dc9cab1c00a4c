"""fsabench.bootstrap: the one engine the report, the leaderboard and human studies draw from."""

from __future__ import annotations

import numpy as np

from fsabench import bootstrap
from fsabench.human.stats import bootstrap_ci
from fsabench.leaderboard import stats as board
from fsabench.report import stats as report


def counts(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 3, n)
    pred = np.minimum(gold, rng.integers(0, 3, n))
    return np.stack([gold, pred, pred, pred], axis=1).astype(float)


def test_report_and_leaderboard_draw_the_same_replicates():
    mats = [counts(50, 1), counts(50, 2)]
    seed = bootstrap.stable_seed("lb-ci", "task", "f1")
    engine = bootstrap.metric_replicates(mats, "f1", "extraction", np.random.default_rng(seed), board.N_BOOT)
    # the board draws its resamples once per task (shared by every entry) from the same seed and chunks
    assert np.array_equal(engine, board._replicates(mats, "f1", "extraction", board.weights("task", "f1", 50)))
    assert report._resampled is bootstrap.metric_replicates and report.score_from_sums is bootstrap.score_from_sums
    assert report.stable_seed is bootstrap.stable_seed and report.CHUNK == bootstrap.CHUNK


def test_mean_interval_deterministic_and_around_the_mean():
    values = [float(v % 5) for v in range(40)]
    low, high = bootstrap_ci(values, 500, seed=7)
    assert (low, high) == bootstrap.mean_interval(values, 500, 7)
    assert low < float(np.mean(values)) < high
    assert bootstrap_ci(values, 500, seed=8) != (low, high)
    assert bootstrap_ci([1.0], 500, 7) == (None, None) and bootstrap_ci(values, 0, 7) == (None, None)


def test_shifted_null_p():
    same = np.zeros(99)
    assert bootstrap.shifted_null_p(same, 0.0) == 1.0
    far = np.full(99, 5.0)
    assert bootstrap.shifted_null_p(far, 5.0) == 1 / 100  # every resample agrees on a difference of 5
    assert bootstrap.shifted_null_p(np.linspace(2, 4, 99), 3.0) == 1 / 100
