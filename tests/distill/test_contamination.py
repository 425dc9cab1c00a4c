"""The recipe's contamination hook: the corpus is checked once, and fine-tuned RunResults record the overlap."""

from __future__ import annotations

import json

import fsabench
from fsabench.distill.contamination import FILE, maybe_check_contamination
from fsabench.distill.stages import stamp_results
from fsabench.results import load_result, save_result

TEACHER = "fsa-distillation/teacher/mixtral/test_500_4m8d.json"


def test_recipe_hook_records_overlap_and_clean_score(tmp_path, data_dir):
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    rows = [json.loads(line) for line in (data_dir / TEACHER).read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    (corpus_dir / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    said = []
    payload = maybe_check_contamination(corpus_dir, ["atsa-rest14"], data_dir, said.append)
    assert payload["tasks"]["atsa-rest14"]["subsets"]["hard"]["overlapping"] == 3 and (corpus_dir / FILE).is_file()
    assert "3 test sentences share a word 13-gram" in said[0]
    assert maybe_check_contamination(corpus_dir, ["atsa-rest14"], data_dir, said.append) == payload and len(said) == 1

    result = fsabench.evaluate("baseline:lexicon", "atsa-rest14")[0]
    result.meta["finetune"] = {"student": "hf:student"}
    save_result(result, tmp_path / "results" / "atsa-rest14.json")
    stamp_results(tmp_path / "results", "hf:student", {"recipe": "t"}, payload)
    leak = load_result(tmp_path / "results" / "atsa-rest14.json").meta["contamination"]
    assert leak["ids"] == ["4466396:0", "4466396:3", "4466396:8"] and leak["overlapping"]["all"] == 3
    assert leak["clean"]["n"] == len(result.examples) - 3 and leak["clean"]["f1"] is not None
