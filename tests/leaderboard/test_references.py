"""Board `references:`: published results in their own rows, labelled, never ranked; the YAML is checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fsabench.errors import SpecError
from fsabench.leaderboard.site import reference_rows, render_index
from fsabench.leaderboard.spec import load_leaderboard, read_spec

BOARDS = Path(__file__).resolve().parents[2] / "leaderboards"


def test_absa_board_ships_sourced_references():
    board = load_leaderboard("absa-tuples", BOARDS)
    refs = board.spec.references
    assert {r.name for r in refs} >= {"MvP (T5-base, one model per task)", "Paraphrase (T5-base)"}
    assert all(r.source and set(r.scores) <= set(board.spec.tasks) for r in refs)
    rows = {r["name"]: r for r in reference_rows(board)}
    assert rows["Paraphrase (T5-base)"]["values"][0] == round((61.13 + 72.03 + 62.56 + 71.70 + 46.93 + 57.93) / 6, 2)
    assert rows["MvP (T5-base, one model per task)"]["values"][0] is None  # not every task: no aggregate


def test_reference_rows_render_apart_and_unranked():
    board = load_leaderboard("absa-tuples", BOARDS)
    page = render_index(board, [])
    head, _, refs = page.partition('<tbody class="references">')
    assert "published, not reproduced here" in refs and refs.count('class="reference"') == len(board.spec.references)
    assert 'class="num rank">–</td>' in refs and "data-standing=\"published\"" in refs
    assert "capped</b> convention" in page


def test_reference_scoring_an_unknown_task_is_refused(tmp_path):
    data = yaml.safe_load((BOARDS / "absa-tuples" / "leaderboard.yaml").read_text())
    data["references"] = [{"name": "X", "scores": {"aste-99": 50.0}, "source": "nowhere"}]
    path = tmp_path / "leaderboard.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match="references: 'X' scores task 'aste-99'"):
        read_spec(path)


def test_model_page_shows_contamination_and_clean_score():
    import fsabench
    from fsabench.distill.contamination import contamination_meta
    from fsabench.leaderboard.site import render_model

    board = load_leaderboard("fsa", BOARDS)
    run = fsabench.evaluate("baseline:lexicon", "atsa-rest14", limit=30)[0]
    ids = [r.id for r in run.examples[:2]]
    payload = {"corpus": "/c/corpus.jsonl", "ngram": 13, "min_words": 8,
               "tasks": {"atsa-rest14": {"subsets": {"all": {"overlapping": 2, "ids": ids}}}}}
    run.meta["contamination"] = contamination_meta(payload, run)
    row = {"name": "x", "slug": "x", "category": "baseline", "category_label": "Baseline", "tasks": {},
           "subsets": {s: None for s in board.spec.subsets},
           "score": None, "parameters": None, "date": "2026-12-07", "link": None, "flags": [], "partial": None}
    page = render_model(board, row, [run])
    assert "Test-set overlap: baseline:lexicon on atsa-rest14: 2 test sentences share a word 13-gram" in page
    assert f"clean rest {run.meta['contamination']['clean']['f1']:.2f}" in page
