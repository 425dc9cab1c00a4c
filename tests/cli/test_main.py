"""The CLI as a user drives it: run, score, tasks, and one-line errors with exit code 1."""

import json
import subprocess
import sys
import shutil

import pytest

from fsabench.results import load_result

FSA = ["atsa-rest14", "atsa-laptop14", "acsa-rest16", "acsa-laptop16"]


def test_gold_baseline_scores_100_on_every_subset(cli, tmp_path):
    res = cli("run", "--model", "baseline:gold", "--tasks", "fsa", "--output", tmp_path, "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["task"] for r in rows] == FSA
    for row in rows:
        assert set(row["scores"]) == {"all", "implicit", "multi", "hard"}
        assert all(s["f1"] == 100.0 and s["precision"] == 100.0 and s["recall"] == 100.0 for s in row["scores"].values())
    result = load_result(tmp_path / "baseline_gold" / "atsa-rest14.json")
    assert result.scores["all"].n == 1140 and len(result.examples) == 1140
    assert result.task.sha256 and set(result.task.data) == {
        "fsa-distillation/atsa/rest14/test.json", "fsa-distillation/atsa/rest14/hard_test.json"}
    first = result.examples[0]
    assert (first.id, first.output, first.prediction) == ("32897564#894393#2", "bread | positive", [["bread", "positive"]])


def readme_default_scores() -> dict[str, dict[str, str]]:
    """The README's "default model's scores" table: task -> subset -> F1 as printed."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = text.split("### The default model's scores", 1)[1].split("\n\n")[2]
    head, _, *rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]
    return {row[0]: dict(zip(head[1:], row[1:])) for row in rows}


def test_default_run_is_the_lexicon_baseline_and_prints_a_table(cli, tmp_path):
    res = cli("run", "--output", tmp_path)
    assert res.returncode == 0, res.stderr
    assert "baseline:lexicon" in res.stdout and "implicit" in res.stdout
    result = load_result(tmp_path / "baseline_lexicon" / "acsa-laptop16.json")
    assert result.protocol == "baseline"
    readme = readme_default_scores()
    assert list(readme) == FSA
    for task, row in readme.items():  # the README's numbers are the ones a user gets
        scores = load_result(tmp_path / "baseline_lexicon" / f"{task}.json").scores
        assert {subset: f"{s.f1:.2f}" for subset, s in scores.items()} == row, task
    again = cli("run", "--output", tmp_path, "--tasks", "atsa-rest14")
    assert "skip atsa-rest14" in again.stderr


def test_score_matches_run_on_the_same_outputs(cli, tmp_path):
    assert cli("run", "-m", "baseline:lexicon", "-t", "atsa-laptop14", "-o", tmp_path, "-q").returncode == 0
    result = load_result(tmp_path / "baseline_lexicon" / "atsa-laptop14.json")
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": r.id, "output": r.output}) + "\n" for r in result.examples))
    res = cli("score", "--task", "atsa-laptop14", preds, "--json")
    assert res.returncode == 0, res.stderr
    scored = json.loads(res.stdout)
    assert scored == {k: v.model_dump(exclude_none=True) for k, v in result.scores.items()}


@pytest.mark.parametrize("mutate, message", [
    (lambda rows: rows[1:], "have no prediction"),
    (lambda rows: rows + rows[:1], "duplicate id"),
    (lambda rows: rows + ['{"id": "nope", "output": ""}'], "not in task atsa-rest14's test set"),
    (lambda rows: rows[:3] + ["{not json"], ":4: invalid JSON"),
])
def test_bad_predictions_are_clear_errors(cli, tmp_path, data_dir, mutate, message):
    from fsabench.examples import load_split
    from fsabench.tasks.registry import build_registry

    examples = load_split(build_registry().spec("atsa-rest14"), data_dir).examples
    rows = [json.dumps({"id": e.id, "output": e.target}) for e in examples]
    preds = tmp_path / "p.jsonl"
    preds.write_text("\n".join(mutate(rows)) + "\n")
    res = cli("score", "--task", "atsa-rest14", preds)
    assert res.returncode == 1 and message in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_missing_data_dir_points_to_data_pull(cli, tmp_path):
    res = cli("run", "-t", "atsa-rest14", "-o", tmp_path, "--data-dir", tmp_path / "nowhere")
    assert res.returncode == 1 and "fsabench data pull" in res.stderr and "Traceback" not in res.stderr


def copy_task_data(data_dir, tmp_path):
    target = tmp_path / "data" / "fsa-distillation" / "atsa" / "rest14"
    shutil.copytree(data_dir / "fsa-distillation" / "atsa" / "rest14", target)
    return tmp_path / "data", target


def test_changed_data_file_fails_its_checksum(cli, tmp_path, data_dir):
    root, target = copy_task_data(data_dir, tmp_path)
    (target / "test.json").write_bytes((target / "test.json").read_bytes().replace(b"positive", b"negative", 1))
    res = cli("run", "-t", "atsa-rest14", "-o", tmp_path / "out", "--data-dir", root)
    assert res.returncode == 1 and "differs from the pinned" in res.stderr and "test.json" in res.stderr


def test_malformed_data_file_is_named(cli, tmp_path, data_dir):
    root, target = copy_task_data(data_dir, tmp_path)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (target / "broken.json").write_text('[{"ID": "1", "sentence": "ok", "aspects": []},\n{"ID": "2", "sentence": ')
    from fsabench.tasks.registry import build_registry

    base = build_registry().tasks["atsa-rest14"]
    (tasks / "broken.yaml").write_text(f"include: {base}\nname: broken\ndata:\n  splits:\n    test: [broken.json]\n"
                                       "subsets:\n  all: {}\n")  # (the base's 'hard' subset needs hard_test.json)
    res = cli("run", "-t", "broken", "-o", tmp_path / "out", "--data-dir", root, "--tasks-dir", tasks)
    assert res.returncode == 1 and "broken.json:2: invalid JSON" in res.stderr


def test_unknown_model_scheme_and_task(cli, tmp_path):
    res = cli("run", "-m", "hugginface:t5", "-o", tmp_path)
    assert res.returncode == 1 and "unknown model scheme 'hugginface'" in res.stderr
    res = cli("run", "-t", "atsa-rest15", "-o", tmp_path)
    assert res.returncode == 1 and "did you mean" in res.stderr


def test_tasks_list_show_validate(cli, tmp_path):
    listed = json.loads(cli("tasks", "list", "--json").stdout)
    assert {r["name"] for r in listed} >= set(FSA) | {"fsa"}
    shown = json.loads(cli("tasks", "show", "acsa-rest16", "--json").stdout)
    assert shown["gold"]["builder"] == "acsa_categories" and len(shown["definition_sha256"]) == 64
    from fsabench.tasks.registry import build_registry

    ok = cli("tasks", "validate", build_registry().tasks["atsa-rest14"], "--check-data", "--json")
    assert json.loads(ok.stdout)[0]["subsets"] == {"all": 1140, "implicit": 477, "multi": 189, "hard": 340}
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: {dir: d, splits: {test: [t.json]}}\n")
    res = cli("tasks", "validate", bad)
    assert res.returncode == 1 and "missing required field 'gold'" in res.stderr


def test_help_and_task_listing_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from fsabench.cli import app; from typer.testing import CliRunner; "
            "r = CliRunner().invoke(app, ['tasks', 'list']); assert r.exit_code == 0, r.output; "
            "CliRunner().invoke(app, ['--help']); "
            "heavy = [m for m in ('torch', 'transformers', 'litellm', 'lm_eval', 'matplotlib') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_cli_works_without_click_installed():
    """typer >= 0.20 bundles click and the core install has no click: usage errors must still be clean."""
    code = ("import sys; sys.modules['click'] = None\n"  # any `import click` now fails, as on a core install
            "from fsabench.cli import main\n"
            "main(['run', '--modle', 'x'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Did you mean --model?" in done.stderr, done.stderr[-2000:]
