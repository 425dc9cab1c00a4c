"""Reports say which tuple convention a task was scored with, flag mixed conventions, and show contamination."""

from __future__ import annotations

import fsabench
from fsabench.api import build_report as report
from fsabench.examples import load_split


def test_report_notes_convention_and_contamination(tmp_path, data_dir):
    examples = load_split(fsabench.task("aste-14lap"), data_dir, "test").examples
    outputs = {e.id: e.target for e in examples}
    capped = fsabench.score("aste-14lap", outputs, model_name="external:capped")
    authors = fsabench.score("aste-14lap", outputs, model_name="external:authors", convention="authors")
    leaked = fsabench.score("aste-14lap", {**outputs, examples[0].id: ""}, model_name="external:student")
    from fsabench.distill.contamination import contamination_meta

    payload = {"corpus": "/x/corpus.jsonl", "fields": ["Text"], "ngram": 13, "min_words": 8,
               "tasks": {"aste-14lap": {"subsets": {"all": {"overlapping": 1, "ids": [examples[0].id]}}}}}
    leaked.meta["contamination"] = contamination_meta(payload, leaked)
    assert leaked.meta["contamination"]["clean"] == {"n": 327, "f1": 100.0, "precision": 100.0, "recall": 100.0}
    built = report([authors], tmp_path / "one", formats="md")
    text = (tmp_path / "one" / "report.md").read_text()
    assert "aste-14lap: scored with the authors' convention" in text
    built = report([capped, authors, leaked], tmp_path / "mixed", formats="md")
    assert any("capped convention and some with the authors'" in f for f in built.flags)
    text = (tmp_path / "mixed" / "report.md").read_text()
    assert "external:student on aste-14lap: 1 test sentences share a word 13-gram" in text
    assert "f1 on the clean rest 100.00" in text
