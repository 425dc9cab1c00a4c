"""A leaderboard is a folder: a second one needs a YAML file and no code; bad YAML says what is wrong."""

from __future__ import annotations

import pytest

from fsabench.errors import SpecError, UnknownName
from fsabench.leaderboard.spec import load_leaderboard
from fsabench.leaderboard.submission import EntryInfo, SubmissionError, build_bundle, bundle_json
from fsabench.leaderboard.verify import Verifier
from tests.conftest import DATA_DIR, ROOT
from tests.leaderboard.support import results

ATSA = """
name: atsa
title: Aspect-term sentiment only
tasks: [atsa-rest14, atsa-laptop14]
metric: f1
subsets: [all, hard]
score: {subset: all, label: ATSA F1}
categories:
  baseline: {label: Baseline, protocols: [baseline]}
"""


def write_board(tmp_path, text: str, name: str = "atsa"):
    folder = tmp_path / "boards" / name
    folder.mkdir(parents=True)
    (folder / "leaderboard.yaml").write_text(text)
    return tmp_path / "boards"


def test_shipped_fsa_leaderboard_loads():
    board = load_leaderboard("fsa", ROOT / "leaderboards")
    assert board.spec.tasks == ["atsa-rest14", "atsa-laptop14", "acsa-rest16", "acsa-laptop16"]
    assert board.spec.categories["fine-tuned"].min_seeds >= 2
    assert set(board.spec.categories) == {"fine-tuned", "zero-shot", "few-shot", "baseline"}


def test_second_leaderboard_is_just_a_folder(tmp_path):
    board = load_leaderboard("atsa", write_board(tmp_path, ATSA))
    runs = results()
    atsa_runs = [r for r in runs if r.task.name.startswith("atsa")]
    entry = EntryInfo(name="Lexicon", category="baseline", date="2026-01-02")
    verified = Verifier(board, DATA_DIR).verify_bytes(bundle_json(build_bundle("atsa", entry, atsa_runs)).encode(), "b")
    assert set(verified.row["tasks"]) == {"atsa-rest14", "atsa-laptop14"} and set(verified.row["subsets"]) == {"all", "hard"}
    with pytest.raises(SubmissionError, match="task 'acsa-(rest|laptop)16' is not on leaderboard atsa"):
        Verifier(board, DATA_DIR).verify_bytes(bundle_json(build_bundle("atsa", entry, runs)).encode(), "b")


@pytest.mark.parametrize("change,expected", [
    (("metric: f1", "metric: f1\nranking: best"), "unknown key 'ranking'"),
    (("subsets: [all, hard]", "subsets: [all, sarcastic]"), "task atsa-rest14 has no subset 'sarcastic'"),
    (("metric: f1", "metric: accuracy"), "metric 'accuracy' does not apply to task atsa-rest14"),
    (("tasks: [atsa-rest14, atsa-laptop14]", "tasks: [atsa-rest14, atsa-rest41]"), "unknown task 'atsa-rest41'"),
    (("score: {subset: all", "score: {subset: multi"), "score.subset 'multi' is not one of subsets"),
])
def test_bad_leaderboard_yaml_names_the_problem(tmp_path, change, expected):
    with pytest.raises((SpecError, UnknownName)) as info:
        load_leaderboard("atsa", write_board(tmp_path, ATSA.replace(*change)))
    assert expected in str(info.value)


def test_unknown_leaderboard_suggests_close_names(tmp_path):
    with pytest.raises(UnknownName, match="did you mean fsa"):
        load_leaderboard("fsaa", ROOT / "leaderboards")
    with pytest.raises(SpecError, match="no leaderboards in"):
        load_leaderboard("fsa", tmp_path)
