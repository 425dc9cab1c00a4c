"""Issue 22, class 3: models are grouped by identity; one display name for two models is refused."""

from __future__ import annotations

import pytest

import fsabench
from fsabench.api import build_report as report
from fsabench.report.labels import Labels, LabelsError, display_names, parse_label_options


def test_two_models_given_one_label_are_refused_in_one_line():
    labels = parse_label_options(["baseline:lexicon=Ours", "baseline:empty=Ours"])
    with pytest.raises(LabelsError, match="models 'baseline:lexicon' and 'baseline:empty' are both labelled 'Ours'"):
        display_names(["baseline:lexicon", "baseline:empty"], labels)


def test_two_long_labels_cut_to_the_same_60_characters_are_refused():
    stem = "A very long model description that goes on and on past the limit"
    labels = parse_label_options([f"baseline:lexicon={stem} one", f"baseline:empty={stem} two"])
    with pytest.raises(LabelsError, match="both labelled"):
        display_names(["baseline:lexicon", "baseline:empty"], labels)


def test_a_default_name_equal_to_a_label_is_made_unique_not_merged():
    names = display_names(["baseline:lexicon", "baseline:empty"], Labels({"baseline:lexicon": "baseline:empty"}))
    assert len(set(names.values())) == 2


def test_report_refuses_duplicate_labels_and_keeps_both_scores_otherwise(tmp_path):
    runs = [fsabench.evaluate(m, "sc-sst2", limit=5, cache=False)[0] for m in ("baseline:lexicon", "baseline:empty")]
    with pytest.raises(LabelsError, match="both labelled 'Same'"):
        report(runs, tmp_path / "r1", formats="csv",
                        labels=Labels({"baseline:lexicon": "Same", "baseline:empty": "Same"}))
    report(runs, tmp_path / "r2", formats="csv", labels=Labels({"baseline:lexicon": "A", "baseline:empty": "B"}))
    text = "".join(p.read_text() for p in (tmp_path / "r2").rglob("*.csv"))
    assert "A" in text and "B" in text
