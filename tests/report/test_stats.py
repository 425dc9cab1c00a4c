"""Report statistics re-score stored examples exactly like fsabench.metrics, and are deterministic."""

from __future__ import annotations

import random

import numpy as np
import pytest

from fsabench.metrics import accuracy_macro_f1, tuple_f1
from fsabench.report import bootstrap_ci, load_runs, paired_bootstrap
from fsabench.report.confusion import example_pairs
from fsabench.report.stats import example_counts, labels_of, score_from_sums


def _runs(folder, model, task="atsa-rest14"):
    return [r for r in load_runs([folder]) if r.model.name == model and r.task.name == task]


def test_counts_rescore_like_tuple_f1_on_resamples(report_runs):
    run = _runs(report_runs, "baseline:lexicon")[0]
    counts = example_counts(run.examples, "extraction", labels_of(run))
    rng = random.Random(0)
    for indices in [list(range(len(run.examples)))] + [[rng.randrange(len(run.examples)) for _ in run.examples]
                                                        for _ in range(3)]:
        gold = [[tuple(t) for t in run.examples[i].gold] for i in indices]
        pred = [[tuple(t) for t in run.examples[i].prediction] for i in indices]
        expected = tuple_f1(gold, pred)
        got = score_from_sums(counts[indices].sum(0), "extraction")
        assert got["f1"] == pytest.approx(100 * expected.f1)
        assert got["precision"] == pytest.approx(100 * expected.precision)
    assert round(float(score_from_sums(counts.sum(0), "extraction")["f1"]), 2) == run.scores["all"].f1


def test_counts_rescore_like_accuracy_macro_f1(report_runs):
    run = _runs(report_runs, "test:llm-7b", "sst2-mini")[0]
    labels = labels_of(run)
    assert labels == ["negative", "positive"]
    counts = example_counts(run.examples, "classification", labels)
    indices = [random.Random(1).randrange(len(run.examples)) for _ in run.examples]
    gold = [run.examples[i].gold[0][0] for i in indices]
    pred = [run.examples[i].prediction[0][0] if run.examples[i].prediction else None for i in indices]
    accuracy, macro = accuracy_macro_f1(gold, pred, labels)
    got = score_from_sums(counts[indices].sum(0), "classification")
    assert got["accuracy"] == pytest.approx(100 * accuracy)
    assert got["macro_f1"] == pytest.approx(100 * macro)


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean(report_runs):
    runs = _runs(report_runs, "test:student-220m")
    assert len(runs) == 3
    first, second = bootstrap_ci(runs, "all", "f1", 300), bootstrap_ci(runs, "all", "f1", 300)
    assert first == second
    mean = np.mean([r.scores["all"].f1 for r in runs])
    assert first.low < mean < first.high and first.high - first.low < 10
    gold = bootstrap_ci(_runs(report_runs, "baseline:gold"), "all", "f1", 200)
    assert (gold.low, gold.high) == (100.0, 100.0)
    assert bootstrap_ci(runs, "hard", "f1", 200) is None  # no hard examples in the first 150


def test_paired_bootstrap_separates_models_and_not_a_model_from_itself(report_runs):
    gold, empty = _runs(report_runs, "baseline:gold"), _runs(report_runs, "baseline:empty")
    test = paired_bootstrap(gold, empty, "all", "f1", 500)
    assert test.delta == 100.0 and test.p_value == pytest.approx(1 / 501, abs=1e-4) and test.n == 150
    same = paired_bootstrap(gold, gold, "all", "f1", 500)
    assert same.delta == 0.0 and same.p_value == 1.0
    lexicon = _runs(report_runs, "baseline:lexicon")
    close = paired_bootstrap(_runs(report_runs, "test:llm-7b"), lexicon, "all", "f1", 500)
    assert close.low < close.delta < close.high
    assert close == paired_bootstrap(_runs(report_runs, "test:llm-7b"), lexicon, "all", "f1", 500)


def test_confusion_pairs_match_by_aspect_with_missed_and_spurious():
    gold = [["bread", "positive"], ["service", "negative"], ["wine", "neutral"]]
    pred = [["bread", "positive"], ["service", "positive"], ["decor", "negative"]]
    assert sorted(example_pairs(gold, pred)) == sorted([
        ("positive", "positive"), ("negative", "positive"), ("neutral", "missed"), ("spurious", "negative")])
    assert example_pairs([["positive"]], []) == [("positive", "missed")]
