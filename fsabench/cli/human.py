"""`fsabench human create|rubric|serve|export|import|judge|stats`: human evaluation of LLM analyses.
Option declarations only; the work is in commands/human.py and the fsabench.human library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.cli.common import ApiBase, CacheDir, Concurrency, JsonOut, MaxCost, MaxRetries, NoCache, Timeout, group, output_option

human_app = group("human", "Human evaluation of LLM analyses: studies, an annotation page, judges, agreement.")
Study = Annotated[Path, typer.Argument(help="the study folder")]


@human_app.command("create")
def create(
    study: Study,
    items: Annotated[list[Path], typer.Option("--items", help="teacher corpus JSONL, `distill corpus` folder or RunResult "
                                                             "JSON/folder (repeatable)")],
    annotators: Annotated[str, typer.Option("--annotators", help="comma-separated annotator names, e.g. ana,ben,cy")],
    rubric: Annotated[str, typer.Option("--rubric", help="a shipped rubric name or a rubric YAML path")] = "analysis",
    sample: Annotated[Optional[int], typer.Option("--sample", help="reviews to sample (each with every model's analysis); "
                                                                  "default: all")] = None,
    per_item: Annotated[int, typer.Option("--per-item", help="annotators per item")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="seed of the sample, the assignment and each annotator's order")] = 0,
    json_out: JsonOut = False,
) -> None:
    """Sample items, blind them and assign each to --per-item annotators; write the study folder."""
    from fsabench.commands.human import create_command

    create_command(study, items, rubric, sample, per_item, annotators, seed, json_out)


@human_app.command("rubric")
def rubric(
    name: Annotated[str, typer.Argument(help="a shipped rubric name (analysis) or a YAML path")] = "analysis",
    json_out: JsonOut = False,
) -> None:
    """Validate and show a rubric (its dimensions, scales and keyboard shortcuts)."""
    from fsabench.commands.human import rubric_command

    rubric_command(name, json_out)


@human_app.command("serve")
def serve(
    study: Study,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 = any free port)")] = 8765,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no request log")] = False,
) -> None:
    """Serve the annotation page; prints one private link per annotator."""
    from fsabench.commands.human import serve_command

    serve_command(study, host, port, quiet)


@human_app.command("export")
def export(
    study: Study,
    fmt: Annotated[str, typer.Option("--format", help="label-studio (config + tasks) or csv (answers)")] = "label-studio",
    output: Annotated[Optional[Path], output_option("folder (label-studio; default STUDY/label-studio) or file "
                                                    "(csv; default stdout)")] = None,
    unblind: Annotated[bool, typer.Option("--unblind", help="csv: add the model column")] = False,
) -> None:
    """Export the study for Label Studio, or its answers as CSV."""
    from fsabench.commands.human import export_command

    export_command(study, fmt, output, unblind)


@human_app.command("import")
def import_(
    study: Study,
    file: Annotated[Path, typer.Argument(help="Label Studio's JSON export of the project")],
    json_out: JsonOut = False,
) -> None:
    """Read Label Studio annotations back into the study (annotators named ls:<email>)."""
    from fsabench.commands.human import import_command

    import_command(study, file, json_out)


@human_app.command("judge")
def judge(
    study: Study,
    model: Annotated[str, typer.Option("--model", "-m", help="SCHEME:NAME of the judge, e.g. litellm:openai/gpt-4o-mini")],
    api_base: ApiBase = None,
    concurrency: Concurrency = 8,
    timeout: Timeout = 120.0,
    max_retries: MaxRetries = 6,
    max_cost: MaxCost = None,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    overwrite: Annotated[bool, typer.Option(help="ask again about items the judge already rated")] = False,
    json_out: JsonOut = False,
) -> None:
    """Rate every item with an LLM judge (stored as annotator judge:MODEL, apart from humans)."""
    from fsabench.commands.human import judge_command

    options = {"api_base": api_base, "concurrency": concurrency, "timeout": timeout, "max_retries": max_retries}
    raise typer.Exit(judge_command(study, model, options, max_cost, not no_cache, cache_dir, overwrite, json_out))


@human_app.command("stats")
def stats(
    study: Study,
    output: Annotated[Optional[Path], output_option("stats file [default: STUDY/stats.json]")] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="bootstrap resamples for the 95% intervals")] = 2000,
    json_out: JsonOut = False,
) -> None:
    """Means with 95% intervals, hallucination rate, alpha and kappa, judge agreement, disagreements."""
    from fsabench.commands.human import stats_command

    stats_command(study, output, bootstrap, json_out)
