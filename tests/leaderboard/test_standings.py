"""Standings kept one entry at a time equal standings built from scratch (ranks, ties, intervals)."""

from __future__ import annotations

import random

import numpy as np

from fsabench.leaderboard import stats
from fsabench.leaderboard.ranking import rank
from fsabench.leaderboard.standings import Standings
from tests.leaderboard.support import board

TASKS = board().spec.tasks
N = 80  # examples per task: intervals of ~+-8 points, so many entries tie


def synthetic_row(rng: random.Random, name: str, partial: bool = False) -> dict:
    """A row with per-example ABSA counts [gold, predicted, hits, hits] of a model right with probability q."""
    q = rng.choice([0.5, 0.55, 0.6, 0.62, 0.7, 0.9])  # repeated values: equal scores share a rank
    gen = np.random.default_rng(rng.randrange(2 ** 32))
    n = N // 2 if partial else N
    counts = {}
    for task in TASKS:
        hits = (gen.random(n) < q).astype(int)
        counts[task] = {"type": "absa", "seeds": [[[1, 1, int(h), int(h)] for h in hits]]}
    boot = stats.bootstrap(counts, TASKS, "f1")
    kind = rng.random()
    return {"name": name, "score": round(boot.point, 2), "counts": counts,
            "ranked": kind > 0.1, "require_audit": 0.1 < kind < 0.2, "audit": None}


def test_incremental_standings_equal_a_rebuild_over_random_adds_and_removals():
    rng = random.Random(7)
    rows: dict[str, dict] = {}
    boots: dict[str, stats.Boot | None] = {}

    def compare(a: str, b: str) -> float | None:
        return stats.compare(boots[a], boots[b], lambda: rows[a]["counts"], lambda: rows[b]["counts"], TASKS, "f1")

    live = Standings(compare)
    tests, rebuild_tests = [], []
    for step in range(120):
        if rows and rng.random() < 0.3:
            slug = rng.choice(sorted(rows))
            del rows[slug], boots[slug]
            live.remove(slug)
        else:
            slug = f"e{rng.randrange(60)}"  # an existing slug is a re-submission (replaced in place)
            rows[slug] = synthetic_row(rng, f"Entry {slug}", partial=rng.random() < 0.1)
            boots[slug] = stats.bootstrap(rows[slug]["counts"], TASKS, "f1")
            live.add(slug, rows[slug])
        fresh = Standings(compare).rebuild(rows.items())
        tests.append(live.tests)
        rebuild_tests.append(fresh.tests)
        assert live.order() == fresh.order(), step
        assert live.places == fresh.places, step
        assert live.tests <= len(rows)  # at most one paired test per entry: linear per change
        if step % 10:
            continue
        site = rank([{**r, "slug": s} for s, r in rows.items()], board())  # the static site's from-scratch path
        assert [(r["slug"], r["rank"], r["tied_with"], r["standing"]) for r in site] == \
               [(s, live.places[s].rank, live.places[s].tied_with, live.places[s].standing) for s in live.order()]
        assert all(r["ci"] == (boots[r["slug"]].ci) for r in site)
    ranked = [p for p in live.places.values() if p.rank is not None]
    assert any(p.tied_with for p in ranked) and len({p.leader for p in ranked}) > 2  # ties and several groups
    assert sum(tests) < 0.5 * sum(rebuild_tests)  # re-walking from the change and stopping early saves most tests


def test_restored_standings_make_no_test_and_keep_every_place():
    rng = random.Random(3)
    rows = {f"e{i}": synthetic_row(rng, f"Entry {i}") for i in range(30)}
    boots = {s: stats.bootstrap(r["counts"], TASKS, "f1") for s, r in rows.items()}
    built = Standings(lambda a, b: stats.p_value(boots[a], boots[b])).rebuild(rows.items())

    def refuse(a: str, b: str) -> float:
        raise AssertionError("a restore must not compare entries")

    restored = Standings(refuse).restore((s, r, built.leader.get(s)) for s, r in rows.items())
    assert restored.places == built.places and restored.tests == 0


def test_shared_resamples_give_the_published_intervals():
    """The intervals are the ones the per-entry bootstrap gave before resamples were shared (same seeds,
    the one engine of fsabench.bootstrap)."""
    from fsabench.bootstrap import metric_replicates, stable_seed

    rng = random.Random(1)
    row = synthetic_row(rng, "x")
    for task in TASKS:
        mats = [np.asarray(s, dtype=float) for s in row["counts"][task]["seeds"]]
        old = metric_replicates(mats, "f1", "absa", np.random.default_rng(stable_seed("lb-ci", task, "f1")), stats.N_BOOT)
        assert stats.bootstrap(row["counts"], TASKS, "f1").ci[task] == \
            [round(float(v), 2) for v in np.quantile(old, [0.025, 0.975])]
