"""`fsabench diff A B`: flips, the paired bootstrap, the pages and the CI gate, on hand-made pairs."""

from __future__ import annotations

import json

import pytest

import fsabench
from fsabench.api import diff
from fsabench.cli import main
from fsabench.results import save_result

TASK = "aste-14lap"


@pytest.fixture(scope="module")
def examples(data_dir):
    from fsabench.examples import load_split

    return load_split(fsabench.task(TASK), data_dir, "test").examples


def scored(examples, wrong=(), name="external:x"):
    """All answers gold, except the ids in `wrong` (answered nothing)."""
    return fsabench.score(TASK, {e.id: ("" if e.id in wrong else e.target) for e in examples}, model_name=name)


def cli(capsys, *args):
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_identical_runs_have_no_flips_and_p_one(examples):
    a = scored(examples)
    report = diff(a, scored(examples, name="external:y"))
    s = report.tasks[0].subsets[0]
    assert (s.subset, s.a_right_b_wrong, s.b_right_a_wrong, s.delta, s.p_value) == ("all", 0, 0, 0.0, 1.0)
    assert not report.regression


def test_everything_lost_gives_the_smallest_p(examples):
    """B answers nothing: every resampled difference is -100, none as far from the observed one as 0 is."""
    report = diff(scored(examples), scored(examples, wrong={e.id for e in examples}), bootstrap=1000)
    s = report.tasks[0].subsets[0]
    assert s.a_right_b_wrong == len(examples) and s.b_right_a_wrong == 0
    assert s.delta == -100.0 and s.p_value == round(1 / 1001, 4) and s.worse and report.regression


def test_known_flips_both_ways(examples):
    ids = [e.id for e in examples]
    a = scored(examples, wrong=set(ids[:3]))  # A misses the first 3
    b = scored(examples, wrong=set(ids[10:40]))  # B misses 30 others
    report = diff(a, b)
    task = report.tasks[0]
    s = task.subsets[0]
    assert (s.a_right_b_wrong, s.b_right_a_wrong) == (30, 3)
    assert [f.id for f in task.lost] == ids[10:40] and [f.id for f in task.gained] == ids[:3]
    flip = task.lost[0]
    assert flip.output_a == flip.gold and flip.output_b == "" and flip.input == examples[10].input
    assert (s.score_a, s.score_b) == (a.scores["all"].f1, b.scores["all"].f1)
    assert abs(s.delta - (s.score_b - s.score_a)) <= 0.011 and s.p_value < 0.05 and s.worse
    one = diff(a, scored(examples, wrong=set(ids[:3]) | {ids[50]})).tasks[0].subsets[0]
    assert (one.a_right_b_wrong, one.b_right_a_wrong) == (1, 0) and one.p_value > 0.05 and not one.worse


def test_cli_table_json_pages_and_gate(tmp_path, capsys, examples):
    ids = [e.id for e in examples]
    save_result(scored(examples, name="external:a"), tmp_path / "a" / f"{TASK}.json")
    save_result(scored(examples, wrong=set(ids[:40]), name="external:b"), tmp_path / "b" / f"{TASK}.json")
    code, out, _ = cli(capsys, "diff", tmp_path / "a", tmp_path / "b", "-o", tmp_path / "flips.md")
    assert code == 0 and "B worse" in out
    page = (tmp_path / "flips.md").read_text()
    assert "### Right in A, wrong in B: 40" in page and examples[0].input.replace("|", "\\|")[:30] in page
    code, out, _ = cli(capsys, "diff", tmp_path / "a", tmp_path / "b", "--json", "--fail-on-regression",
                       "-o", tmp_path / "flips.html")
    payload = json.loads(out)
    assert code == 1 and payload["regression"] is True and payload["tasks"][0]["subsets"][0]["a_right_b_wrong"] == 40
    assert "<h3>Right in A, wrong in B: 40" in (tmp_path / "flips.html").read_text()
    code, _, _ = cli(capsys, "diff", tmp_path / "b", tmp_path / "a", "--fail-on-regression")
    assert code == 0  # the reverse is an improvement


def test_refuses_mismatched_definitions_and_example_sets(tmp_path, capsys, examples):
    a = scored(examples)
    b = fsabench.score(TASK, {e.id: e.target for e in examples}, convention="authors")
    with pytest.raises(fsabench.FsabenchError, match=r"different task definitions .* \(conventions capped vs authors\)"):
        diff(a, b)
    short = scored(examples)
    short.examples = short.examples[:100]
    with pytest.raises(fsabench.FsabenchError, match=r"different example sets \(328 vs 100 examples; 228 only in A"):
        diff(a, short)
    save_result(a, tmp_path / "a.json")
    save_result(b, tmp_path / "b.json")
    code, _, err = cli(capsys, "diff", tmp_path / "a.json", tmp_path / "b.json")
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: task aste-14lap: A and B were scored")
