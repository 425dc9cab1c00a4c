"""What a report shows can be trusted: scores re-computed from the stored examples, limited runs
kept apart, seed aggregates that mean what they say, and outputs safe to open."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd

from fsabench.report import analyze, bootstrap_ci, confusion_counts, load_runs, read_runs
from fsabench.report.rescore import recompute
from fsabench.report.tables import tables_for
from fsabench.results import load_result, save_result


def _copy(report_runs, tmp_path, models=("baseline_lexicon", "baseline_gold", "test_student-220m")):
    runs = tmp_path / "runs"
    for model in models:
        for path in (report_runs / model).glob("atsa-rest14__seed*.json"):
            (runs / model).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, runs / model / path.name)
    return runs


def _limited(source, target, n=100, name="test:smollm2"):
    """A `--limit n` run of another model: the first n examples, scored as `fsabench run` would."""
    result = load_result(source)
    result.examples = result.examples[:n]
    result.model.name = name
    result.meta["limit"] = n
    result.protocol = "zero-shot"
    fixed, _ = recompute(source, result)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_result(fixed, target)


def test_a_limited_run_is_reported_apart_and_changes_no_other_row(report_runs, tmp_path):
    runs = _copy(report_runs, tmp_path)
    before = analyze(load_runs([runs]), n_boot=200, tests=False)
    _limited(runs / "baseline_lexicon" / "atsa-rest14__seed1.json", runs / "smollm2" / "atsa-rest14__seed1.json")
    after = analyze(load_runs([runs]), n_boot=200, tests=False)
    columns = ["model", "task", "subset", "metric", "mean", "std", "seeds", "ci_low", "ci_high"]
    old = before.summary[columns].reset_index(drop=True)
    kept = after.summary[~after.summary.partial][columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, kept)  # every full row, its interval included, is unchanged
    tables = {t.name: t for t in tables_for(after)}
    overview = tables["overview"]
    assert overview.columns[-2:] == ["atsa-rest14", "Avg"] and all(row[-1].text != "–" for row in overview.rows)
    assert [c.text for c in tables["partial"].rows[0][:4]] == ["atsa-rest14", "test:smollm2", "zero-shot",
                                                              "partial, n=100"]
    assert any("reported apart as partial and change no other row" in f for f in after.flags)


def test_bootstrap_interval_depends_only_on_its_own_examples(report_runs):
    runs = [r for r in load_runs([report_runs]) if r.model.name == "test:student-220m"]
    first = bootstrap_ci(runs, "all", "f1", 300, key="atsa-rest14")
    assert first == bootstrap_ci(runs, "all", "f1", 300, key="atsa-rest14 [n=150]")  # the label plays no part
    assert first == bootstrap_ci(list(reversed(runs))[::-1], "all", "f1", 300)


def test_confusion_is_a_mean_per_seed_not_a_sum(report_runs):
    gold = [r for r in load_runs([report_runs]) if r.model.name == "baseline:gold" and r.task.name == "atsa-rest14"]
    assert len(gold) == 2
    pd.testing.assert_frame_equal(confusion_counts(gold, average=True), confusion_counts(gold[:1]).astype(float))


def test_stored_scores_and_predictions_are_recomputed_and_the_file_named(report_runs, tmp_path):
    runs = _copy(report_runs, tmp_path, ("baseline_lexicon",))
    lied = runs / "baseline_lexicon" / "atsa-rest14__seed1.json"
    result = load_result(lied)
    true_f1 = result.scores["all"].f1
    result.scores["all"].f1 = 99.0
    edited = next(r for r in result.examples if r.output)
    edited.prediction = [["invented", "positive"]]
    save_result(result, lied)
    loaded = read_runs([runs])
    assert len(loaded.warnings) == 1 and str(lied) in loaded.warnings[0]
    assert "1 stored predictions differ" in loaded.warnings[0] and "stored 99.0" in loaded.warnings[0]
    fixed = next(r for r in loaded.results if r.seed == 1)
    assert fixed.scores["all"].f1 == true_f1
    assert next(r for r in fixed.examples if r.id == edited.id).prediction != [["invented", "positive"]]


def test_other_json_files_are_skipped_with_one_note_and_runs_read_at_any_depth(report_runs, tmp_path, cli):
    runs = tmp_path / "runs"
    deep = runs / "recipe" / "results" / "hf_runs_student" / "seed1"
    deep.mkdir(parents=True)
    shutil.copy(report_runs / "baseline_lexicon" / "atsa-rest14__seed1.json", deep / "atsa-rest14.json")
    (runs / "recipe" / "student").mkdir(parents=True)
    (runs / "recipe" / "student" / "config.json").write_text('{"model_type": "t5"}')
    (runs / "recipe" / "summary.json").write_text('[1, 2]')
    res = cli("report", runs, "--out", tmp_path / "out", "--format", "md", "--figures", "none", "--bootstrap", "0")
    assert res.returncode == 0, res.stderr
    notes = [line for line in res.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "skipped 2 JSON files that are not RunResults" in notes[0]
    assert "config.json" in notes[0] and "summary.json" in notes[0]
    assert "| baseline:lexicon | baseline |" in (tmp_path / "out" / "report.md").read_text()


def test_latex_csv_and_file_modes_are_safe(report_runs, tmp_path):
    runs = _copy(report_runs, tmp_path, ("baseline_lexicon", "test_student-220m"))
    for path in (runs / "test_student-220m").glob("*.json"):
        result = load_result(path)
        result.model.name = "=HYPERLINK(\"http://x\")\n\\input{/etc/passwd}%"
        result.protocol = "zero-shot"
        save_result(result, path)
    out = tmp_path / "out"
    script = ("import os, sys; os.umask(0o022); from fsabench.report.build import build_report; "
              f"build_report([{str(runs)!r}], {str(out)!r}, formats='latex,csv,md', figure_formats='none', n_boot=0)")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    tex = (out / "report.tex").read_text()
    assert not any(line.lstrip().startswith("\\input") for line in tex.splitlines())
    assert all(line.startswith("%") for line in tex.splitlines() if "FLAG" in line or "HYPERLINK" in line
               and not line.startswith(("\\", "&")) and "&" not in line)
    assert "\\textbackslash{}input\\{/etc/passwd\\}\\%" in tex
    for name in ("summary.csv", "tables/fsa.csv", "tables/overview.csv"):
        text = (out / name).read_text()
        assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text and "\n=HYPERLINK" not in text, name
        assert "\\input" in text and "\n\\input" not in text  # the newline became a space
    for name in ("report.tex", "summary.csv", "report.md"):
        assert os.stat(out / name).st_mode & 0o777 == 0o644, name
    md = (out / "report.md").read_text()
    assert "HYPERLINK(" in md and "\n\\\\input" not in md
    json.loads(json.dumps(md))  # plain text
