"""`fsabench tasks list|show|ids|validate`: parse, call `fsabench.api`, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.cli.common import DataDir, JsonOut, Quiet, TasksDir, group

tasks_app = group("tasks", "List, show, list example ids of and validate tasks.")


@tasks_app.command("list")
def tasks_list(tasks_dir: TasksDir = None, json_out: JsonOut = False) -> None:
    """List every task and group on the search path."""
    from fsabench.api import task_catalog
    from fsabench.console import emit_json, out

    rows = task_catalog(tasks_dir or ())
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        out.print(f"{row['name']:<24} {row['kind']:<6} {row['path']}", highlight=False, soft_wrap=True)


@tasks_app.command("show")
def tasks_show(name: str, tasks_dir: TasksDir = None, json_out: JsonOut = False) -> None:
    """Show a task's full definition (includes resolved) and its definition hash."""
    import yaml

    from fsabench.api import show_task
    from fsabench.console import emit_json, out

    payload = show_task(name, tasks_dir or ())
    if json_out:
        emit_json(payload)
    else:
        out.print(yaml.safe_dump(payload, sort_keys=False, allow_unicode=True), highlight=False)


@tasks_app.command("ids")
def tasks_ids(
    name: str,
    split: Annotated[str, typer.Option(help="train | dev | test")] = "test",
    subset: Annotated[Optional[str], typer.Option(help="only examples in this subset, e.g. hard")] = None,
    limit: Annotated[Optional[int], typer.Option(help="only the first N examples, as `run --limit N`")] = None,
    data_dir: DataDir = None, tasks_dir: TasksDir = None, json_out: JsonOut = False,
) -> None:
    """List a task's example ids (what a predictions file for `fsabench score` answers)."""
    from fsabench.api import task_ids
    from fsabench.console import emit_json
    from fsabench.options import TaskIdsOptions

    rows = task_ids(TaskIdsOptions(name=name, split=split, subset=subset, limit=limit, data_dir=data_dir,
                                   tasks_dir=tuple(tasks_dir or ())))
    if json_out:  # --json adds each example's input text and subsets; plain is one id per line (pipe-friendly)
        emit_json(rows)
        return
    sys.stdout.write("".join(f"{row['id']}\n" for row in rows))


@tasks_app.command("validate")
def tasks_validate(
    paths: Annotated[list[Path], typer.Argument(help="task YAML files or folders")],
    data_dir: DataDir = None,
    check_data: Annotated[bool, typer.Option("--check-data", help="also load the test split and count subsets")] = False,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Validate task YAML files (schema, unknown keys, builders); exit 1 on the first problem."""
    from fsabench.api import validate_tasks
    from fsabench.console import emit_json, out
    from fsabench.options import ValidateOptions

    report = validate_tasks(ValidateOptions(paths=tuple(paths), data_dir=data_dir, check_data=check_data))
    if json_out:
        emit_json(report)
        return
    for row in report:
        out.print(f"ok  {row['path']}  {row.get('name') or row.get('group')}", highlight=False, soft_wrap=True)
        if "splits" in row:
            out.print(format_counts(row["splits"]), highlight=False, soft_wrap=True)


def format_counts(splits: dict[str, dict[str, dict[str, int]]]) -> str:
    """`test: all 1140 (n_gold 1299), implicit 477 (...)` per split, one line each."""
    lines = []
    for split, subsets in splits.items():
        parts = [f"{name} {c['n']} (n_gold {c['n_gold']})" for name, c in subsets.items()]
        lines.append(f"    {split}: " + ", ".join(parts))
    return "\n".join(lines)


@tasks_app.command("overlap")
def tasks_overlap(
    corpus: Annotated[Path, typer.Option("--corpus", help="JSONL, JSON array, CSV/TSV or text file (.gz too), "
                                         "streamed: any size")],
    field: Annotated[str, typer.Option("--field", help="the record field(s) holding text, comma-separated")] = "text",
    tasks: Annotated[str, typer.Option("--tasks", "-t", help="comma-separated task or group names")] = "fsa",
    ngram: Annotated[int, typer.Option("--ngram", min=1, help="words per n-gram")] = 13,
    min_words: Annotated[int, typer.Option("--min-words", min=1, help="shorter test sentences are not checked")] = 8,
    data_dir: DataDir = None, tasks_dir: TasksDir = None, json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Test (and hard) sentences whose word n-grams occur in a corpus: per task and subset, with ids."""
    from fsabench.api import overlap
    from fsabench.console import emit_json, out

    found = overlap(corpus, tasks=tasks, fields=field, ngram=ngram, min_words=min_words, data_dir=data_dir,
                    tasks_dir=tasks_dir or ())
    payload = found.to_dict()
    if json_out:
        emit_json(payload)
        return
    from rich.table import Table

    table = Table("task", "subset", "sentences", "checked", "overlapping", "%", "ids (first 5)",
                  title=f"{corpus}: {found.records} records, word {ngram}-grams")
    for task, info in payload["tasks"].items():
        for subset, s in info["subsets"].items():
            table.add_row(task, subset, str(s["n"]), str(s["checked"]), str(s["overlapping"]),
                          f"{s['percent']:.2f}", ", ".join(s["ids"][:5]))
    out.print(table)
