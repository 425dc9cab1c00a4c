"""Seed aggregation, comparability flags and table rendering from real RunResult files."""

from __future__ import annotations

import shutil
import statistics

import pandas as pd
import pytest

from fsabench.errors import ResultError
from fsabench.report import analyze, load_runs, summary_frame
from fsabench.report.tables import tables_for, to_latex, to_markdown
from fsabench.results import load_result, save_result


def _row(frame, model, subset="all", metric="f1", task="atsa-rest14"):
    rows = frame[(frame.model == model) & (frame.subset == subset) & (frame.metric == metric) & (frame.task == task)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def _copy(report_runs, tmp_path):
    return shutil.copytree(report_runs, tmp_path / "runs")


def _edit(path, change):
    result = load_result(path)
    change(result)
    save_result(result, path)


def test_summary_aggregates_seeds_with_cost_tokens_and_parameters(report_runs):
    results = load_runs([report_runs])
    frame = summary_frame(results, baseline="baseline:lexicon", n_boot=200)
    student = [r.scores["all"].f1 for r in results if r.model.name == "test:student-220m"]
    row = _row(frame, "test:student-220m")
    assert row.seeds == 3 and row["mean"] == round(statistics.mean(student), 2)
    assert row["std"] == round(statistics.stdev(student), 2)
    assert row.parameters == 220_000_000 and row.tokens_per_1k == 25_000 and pd.isna(row.cost_per_1k)
    assert row.ci_low < row["mean"] < row.ci_high
    lexicon = _row(frame, "baseline:lexicon")
    assert row.delta == round(row["mean"] - lexicon["mean"], 2) and lexicon.delta == 0
    assert _row(frame, "test:llm-7b").cost_per_1k == pytest.approx(2.0)
    assert _row(frame, "baseline:gold")["mean"] == 100.0
    hard = _row(frame, "baseline:gold", subset="hard")  # no hard examples among the first 150: missing
    assert hard.n == 0 and pd.isna(hard["mean"])
    accuracy = _row(frame, "test:llm-7b", metric="accuracy", task="sst2-mini")
    assert accuracy.seeds == 2 and accuracy.protocol == "zero-shot"


def test_markdown_tables_bold_best_dash_missing_delta_and_zero_shot(report_runs):
    analysis = analyze(load_runs([report_runs]), baseline="baseline:lexicon", n_boot=200)
    tables = {t.name: t for t in tables_for(analysis)}
    assert list(tables) == ["overview", "fsa", "fsa_ci", "zero_shot", "zero_shot_ci", "tests"]
    fsa = tables["fsa"]
    assert fsa.columns[5:9] == ["all", "implicit", "multi", "hard"]
    gold = next(r for r in fsa.rows if r[1].text == "baseline:gold")
    assert gold[5].bold and gold[5].text.startswith("100.00 ± – (+") and gold[8].text == "–"
    assert gold[3].text == "2 (deterministic)"  # same outputs for both seeds: no spread, never ± 0.00
    student = next(r for r in fsa.rows if r[1].text == "test:student-220m")
    assert [student[3].text, student[4].text, student[-1].text] == ["3", "220M", "–"]
    assert not student[5].bold
    md = to_markdown(fsa)
    assert "| atsa-rest14 | baseline:gold | baseline | 2 (deterministic) | 0 | **100.00 ± – (+" in md
    assert any("deterministic (identical outputs for every seed)" in note for note in fsa.notes)
    assert tables["zero_shot"].columns[5:7] == ["Accuracy", "Macro-F1"]
    tests = tables["tests"]
    assert {r[1].text for r in tests.rows} >= {"test:student-220m (fine-tuned)", "baseline:gold (baseline)"}
    assert all(r[2].text == "baseline:lexicon (baseline)" for r in tests.rows)
    assert any("rows mix protocols" in f for f in analysis.flags)


def test_different_task_hash_data_or_protocol_is_flagged_never_averaged(report_runs, tmp_path):
    runs = _copy(report_runs, tmp_path)
    student = sorted((runs / "test_student-220m").glob("atsa-rest14__seed*.json"))
    _edit(student[2], lambda r: setattr(r.task, "sha256", "f" * 64))
    _edit(student[1], lambda r: setattr(r, "protocol", "zero-shot"))
    lexicon = runs / "baseline_lexicon" / "atsa-rest14__seed2.json"
    _edit(lexicon, lambda r: r.task.data.update({"fsa-distillation/atsa/rest14/test.json": "0" * 64}))
    analysis = analyze(load_runs([runs]), n_boot=0, tests=False)
    student_rows = analysis.summary[(analysis.summary.model == "test:student-220m") & (analysis.summary.subset == "all")]
    labels = sorted(set(student_rows.task))
    assert len(labels) == 2 and "def ffffffff" in labels[1] and all(t.startswith("atsa-rest14 [") for t in labels)
    assert sorted(student_rows.protocol) == ["fine-tuned", "fine-tuned", "zero-shot"]
    assert len(student_rows) == 3 and set(student_rows.seeds) == {1}
    text = " ".join(analysis.flags)
    assert "not comparable" in text and "ffffffff" in text
    assert "test:student-220m on " in text and "different protocols (fine-tuned, zero-shot)" in text
    assert any("data" in t for t in set(analysis.summary.task) if t.startswith("atsa-rest14 ["))


def test_latex_and_markdown_escape_names_from_result_files(report_runs, tmp_path):
    runs = _copy(report_runs, tmp_path)
    for path in (runs / "baseline_empty").glob("*.json"):
        _edit(path, lambda r: setattr(r.model, "name", "evil|50%_&<b>{x}</b>"))
    analysis = analyze(load_runs([runs]), n_boot=0, tests=False)
    fsa = next(t for t in tables_for(analysis) if t.name == "fsa")
    assert "evil\\|50%\\_&\\<b\\>{x}\\</b\\>" in to_markdown(fsa)
    latex = to_latex(fsa)
    assert r"evil\textbar{}50\%\_\&\textless{}b\textgreater{}\{x\}\textless{}/b\textgreater{}" in latex
    assert r"\toprule" in latex and r"$\pm$" in latex


@pytest.mark.parametrize("change, message", [
    (lambda r: setattr(r, "complete", False), "partial result (complete=false"),
    (lambda r: r.examples.pop(), "field 'scores.all.n' is 150 but the file holds 149 examples"),
])
def test_partial_or_inconsistent_files_raise_naming_the_file(report_runs, tmp_path, change, message):
    runs = _copy(report_runs, tmp_path)
    path = runs / "baseline_gold" / "atsa-rest14__seed1.json"
    _edit(path, change)
    with pytest.raises(ResultError) as info:
        load_runs([runs])
    assert str(path) in str(info.value) and message in str(info.value)


def test_checkpoints_named_by_seed_fold_into_one_model(report_runs, tmp_path):
    runs = _copy(report_runs, tmp_path)
    for path in (runs / "test_student-220m").glob("atsa-rest14__seed*.json"):
        _edit(path, lambda r: setattr(r.model, "name", f"hf:runs/student-seed{r.seed}"))
    frame = summary_frame(load_runs([runs]), n_boot=0)
    row = _row(frame, "student-seed*")  # the display name: the folder, never the path
    assert row.seeds == 3 and row.protocol == "fine-tuned" and row.model_id == "hf:runs/student-seed*"
