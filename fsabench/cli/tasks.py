"""`fsabench tasks ...` and `fsabench data ...`: list, show, validate tasks; pull, verify, locate data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.cli.common import DataDir, JsonOut, TasksDir, group

tasks_app = group("tasks", "List, show, list example ids of and validate tasks.")
data_app = group("data", "Download, verify and locate benchmark data.")


@tasks_app.command("list")
def tasks_list(tasks_dir: TasksDir = None, json_out: JsonOut = False) -> None:
    """List every task and group on the search path."""
    from fsabench.commands.tasks import list_tasks

    list_tasks(tasks_dir, json_out)


@tasks_app.command("show")
def tasks_show(name: str, tasks_dir: TasksDir = None, json_out: JsonOut = False) -> None:
    """Show a task's full definition (includes resolved) and its definition hash."""
    from fsabench.commands.tasks import show_task

    show_task(name, tasks_dir, json_out)


@tasks_app.command("ids")
def tasks_ids(
    name: str,
    split: Annotated[str, typer.Option(help="train | dev | test")] = "test",
    subset: Annotated[Optional[str], typer.Option(help="only examples in this subset, e.g. hard")] = None,
    limit: Annotated[Optional[int], typer.Option(help="only the first N examples, as `run --limit N`")] = None,
    data_dir: DataDir = None, tasks_dir: TasksDir = None, json_out: JsonOut = False,
) -> None:
    """List a task's example ids (what a predictions file for `fsabench score` answers)."""
    from fsabench.commands.tasks import list_ids

    list_ids(name, split, subset, limit, data_dir, tasks_dir, json_out)


@tasks_app.command("validate")
def tasks_validate(
    paths: Annotated[list[Path], typer.Argument(help="task YAML files or folders")],
    data_dir: DataDir = None,
    check_data: Annotated[bool, typer.Option("--check-data", help="also load the test split and count subsets")] = False,
    json_out: JsonOut = False,
) -> None:
    """Validate task YAML files (schema, unknown keys, builders); exit 1 on the first problem."""
    from fsabench.commands.tasks import validate_tasks

    validate_tasks(paths, data_dir, check_data, json_out)


Bundles = Annotated[str, typer.Option("--bundles", help="comma-separated: fsa, sentibench, aste-v2, asqp, all")]


@data_app.command("pull")
def data_pull(data_dir: DataDir = None, bundles: Bundles = "fsa,sentibench,aste-v2,asqp", json_out: JsonOut = False) -> None:
    """Download the pinned benchmark files, verify each sha256 (idempotent, resumes)."""
    from fsabench.commands.data import pull_data

    pull_data(data_dir, bundles, json_out)


@data_app.command("verify")
def data_verify(data_dir: DataDir = None, bundles: Bundles = "fsa,sentibench,aste-v2,asqp", json_out: JsonOut = False) -> None:
    """Re-check every pinned file's sha256; exit 1 if any is missing or changed."""
    from fsabench.commands.data import verify_data

    verify_data(data_dir, bundles, json_out)


@data_app.command("path")
def data_path(data_dir: DataDir = None) -> None:
    """Print the data directory."""
    from fsabench.settings import data_dir as resolve

    typer.echo(str(resolve(data_dir)))


@tasks_app.command("overlap")
def tasks_overlap(
    corpus: Annotated[Path, typer.Option("--corpus", help="JSONL, JSON array, CSV/TSV or text file (.gz too), "
                                         "streamed: any size")],
    field: Annotated[str, typer.Option("--field", help="the record field(s) holding text, comma-separated")] = "text",
    tasks: Annotated[str, typer.Option("--tasks", "-t", help="comma-separated task or group names")] = "fsa",
    ngram: Annotated[int, typer.Option("--ngram", min=1, help="words per n-gram")] = 13,
    min_words: Annotated[int, typer.Option("--min-words", min=1, help="shorter test sentences are not checked")] = 8,
    data_dir: DataDir = None, tasks_dir: TasksDir = None, json_out: JsonOut = False,
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
