"""`distill recipe paper.yaml --plan`: the paper's corpus size, passes over it and the teacher's cost."""

from __future__ import annotations

import json

import pytest


def test_paper_plan_pins_the_corpus_the_paper_made(cli, tmp_path):
    res = cli("distill", "recipe", "paper.yaml", "--plan", "--json", "--output", tmp_path / "paper")
    assert res.returncode == 0, res.stderr
    stages = json.loads(res.stdout)["stages"]
    corpus = stages["corpus"]
    # 500,000 reviews per domain, a seeded sample of each file, both prompts: 2,000,000 requests (the seed's
    # 25 chunks x {analysis, rewrite} x {restaurant, computer} x 20,000)
    assert [s["sample"] for s in corpus["reviews"]] == [500_000, 500_000]
    assert all(s["limit"] is None for s in corpus["reviews"]) and corpus["seed"] == 42
    assert corpus["reviews_total"] == 1_000_000 and corpus["requests_per_review"] == 2
    assert corpus["requests"] == 2_000_000 and corpus["responses"] == 2_000_000
    estimate = corpus["teacher_estimate"]
    assert estimate["requests"] == 2_000_000 and estimate["completion_tokens_typical"] == 440_000_000
    assert estimate["completion_tokens_max"] == 1_200_000_000
    assert estimate["cost"]["typical_usd"] == pytest.approx(495, rel=0.05)
    resolved = stages["pretrain"]["resolved"]
    # 200k steps x 100 sequences over the 99.5% of 2M responses not held out: about 10 passes
    assert resolved["sequences_seen"] == 20_000_000 and resolved["passes"] == pytest.approx(10.05)
    assert not (tmp_path / "paper").exists()


def test_corpus_size_caps_the_planned_responses(cli, tmp_path):
    res = cli("distill", "recipe", "paper.yaml", "--plan", "--json", "--set", "corpus.size=500000")
    assert res.returncode == 0, res.stderr
    stages = json.loads(res.stdout)["stages"]
    assert stages["corpus"]["requests"] == 2_000_000 and stages["corpus"]["responses"] == 500_000
    assert stages["pretrain"]["resolved"]["passes"] == pytest.approx(40.2)
