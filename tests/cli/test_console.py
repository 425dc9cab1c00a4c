"""What a person reads in the terminal: a score table that fits, progress with an ETA, example ids."""

import io
import json

from rich.console import Console

from fsabench.console import LogProgress, score_table, shorten_middle
from fsabench.results import load_result


def rendered(table, width):
    console = Console(width=width, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(table)
    return captured.get().splitlines()


def test_score_table_fits_80_columns_and_never_cuts_a_number(cli, tmp_path):
    assert cli("run", "-m", "baseline:lexicon", "-t", "atsa-rest14,sc-sst2", "--limit", "200", "-o", tmp_path,
               "-q").returncode == 0
    long_name = "hf:/home/researcher/experiments/2026-11-29/distilled-t5-base-student/seed-42/checkpoint-best"
    results = [load_result(tmp_path / "baseline_lexicon" / f"{t}.json") for t in ("atsa-rest14", "sc-sst2")]
    results = [r.model_copy(update={"model": r.model.model_copy(update={"name": long_name})}) for r in results]
    narrow = rendered(score_table(results, width=80), 80)
    assert max(len(line) for line in narrow) <= 80
    assert "hf:/home/resea" in narrow[0] + narrow[2] and "…" in narrow[2] and "checkpoint-best" in narrow[2]
    f1 = f"{results[0].scores['all'].f1:.2f}"
    acc = f"{results[1].scores['all'].accuracy:.2f}"
    assert f1 in narrow[2] and acc in "\n".join(narrow)
    wide = rendered(score_table(results, width=200), 200)
    assert "unparse%" in wide[0] and " P " in wide[0] and long_name in "\n".join(wide)


def test_shorten_middle_keeps_both_ends():
    assert shorten_middle("hf:./runs/student", 40) == "hf:./runs/student"
    short = shorten_middle("hf:/a/very/long/path/to/the/model-seed42", 20)
    assert len(short) == 20 and short.startswith("hf:/a/ve") and short.endswith("el-seed42")


def test_run_in_a_pipe_logs_progress_lines_and_a_table_that_fits(cli, tmp_path):
    res = cli("run", "-t", "atsa-rest14", "-o", tmp_path, env={"COLUMNS": "80"})
    assert res.returncode == 0, res.stderr
    assert "atsa-rest14: 0/1140 started" in res.stderr
    done = [line for line in res.stderr.splitlines() if "1140/1140 (100%)" in line]
    assert done and "ex/s" in done[0] and "ETA 0:00:00" in done[0]
    assert max(len(line) for line in res.stdout.splitlines()) <= 80 and "42.21" in res.stdout
    wide = cli("run", "-t", "atsa-rest14", "-o", tmp_path, env={"COLUMNS": "200"})
    assert "unparse%" in wide.stdout.splitlines()[0]


def test_log_progress_prints_every_n_examples_or_after_the_interval():
    sink = io.StringIO()
    log = LogProgress(Console(file=sink, width=200, color_system=None), every=100, seconds=3600)
    handle = log.add_task("t")
    for done in (0, 50, 100, 150, 260, 300):
        log.update(handle, completed=done, total=300)
    lines = sink.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["0/300", "100/300", "260/300", "300/300"]
    timed = LogProgress(Console(file=sink, width=200, color_system=None), every=10**9, seconds=0)
    handle = timed.add_task("t")
    before = len(sink.getvalue().splitlines())
    for done in (0, 1, 2):
        timed.update(handle, completed=done, total=10)
    assert len(sink.getvalue().splitlines()) - before == 3


def test_tasks_ids_lists_what_score_needs(cli, tmp_path, data_dir):
    from fsabench.catalog import task_ids

    ids = cli("tasks", "ids", "atsa-rest14").stdout.splitlines()  # ids are exact: some end in a space
    assert len(ids) == 1140 and ids[0] == "32897564#894393#2"
    hard = task_ids("atsa-rest14", "test", "hard", None, data_dir, None)
    assert len(hard) == 340 and all("hard" in row["subsets"] and row["input"] for row in hard)
    assert [row["id"] for row in task_ids("atsa-rest14", "test", None, 5, data_dir, None)] == ids[:5]
    assert "11351633#565247#3 " in ids
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": i, "output": ""}) + "\n" for i in ids))
    assert cli("score", "--task", "atsa-rest14", preds, "--json").returncode == 0
    bad = cli("tasks", "ids", "atsa-rest14", "--subset", "hardd")
    assert bad.returncode == 1 and "did you mean hard?" in bad.stderr


def test_every_long_job_logs_plain_lines_off_a_terminal(monkeypatch):
    """One progress display: the teacher counter and pretraining fall back to log lines like `run` does."""
    import fsabench.console as console
    from fsabench.console import count_bar, pretrain_progress

    sink = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=sink, width=200, color_system=None))
    with pretrain_progress(True, 3) as report:
        for step in (1, 2, 3):
            report({"step": step, "loss": 2.0 / step, "tokens_per_second": 1234.5,
                    **({"valid_loss": 1.5} if step == 3 else {})})
    with count_bar(True, "teacher") as update:
        update(0, 10)
        update(10, 10)
    lines = sink.getvalue().splitlines()
    assert lines[0] == "pretrain: 1/3 started loss 2.0000 valid - 1,234 tok/s"
    assert lines[1].startswith("pretrain: 3/3 (100%)") and "steps/s" in lines[1]
    assert lines[1].endswith("loss 0.6667 valid 1.5000 1,234 tok/s")
    assert lines[2:] == ["teacher: 0/10 started", lines[3]] and lines[3].startswith("teacher: 10/10 (100%)")
    assert not any("\x1b" in line for line in lines)
