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
