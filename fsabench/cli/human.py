"""`fsabench human create|rubric|serve|export|import|judge|stats`: human evaluation of LLM analyses.
Each verb builds its options object, calls one `fsabench.api.human_*` function and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from fsabench.cli.common import ApiBase, CacheDir, Concurrency, JsonOut, MaxCost, MaxRetries, NoCache, Quiet, Timeout, group, output_option

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
    quiet: Quiet = False,
) -> None:
    """Sample items, blind them and assign each to --per-item annotators; write the study folder."""
    from fsabench.api import human_create
    from fsabench.console import emit_json, out
    from fsabench.options import StudyCreateOptions

    made = human_create(StudyCreateOptions(study=study, items=tuple(items), annotators=annotators, rubric=rubric,
                                           sample=sample, per_item=per_item, seed=seed))
    loads = {a: len(v) for a, v in made.assignment.items()}
    models = sorted({made.model_of(i) for i in made.items})
    if json_out:
        emit_json({"study": str(study), "items": len(made.items), "models": len(models), "assignment": loads,
                   "tokens_file": str(study / "tokens.json")})
        return
    out.print(f"study {escape(str(study))}: {len(made.items)} items from {len(models)} model(s), "
              f"{made.per_item} annotators per item, rubric {made.rubric.name}", highlight=False)
    for name, n in loads.items():
        out.print(f"  {escape(name)}: {n} items", highlight=False)
    out.print(f"private links: `fsabench human serve {escape(str(study))}` prints them "
              f"(tokens in {escape(str(study / 'tokens.json'))})", highlight=False)


@human_app.command("rubric")
def rubric(
    name: Annotated[str, typer.Argument(help="a shipped rubric name (analysis) or a YAML path")] = "analysis",
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Validate and show a rubric (its dimensions, scales and keyboard shortcuts)."""
    from fsabench.api import human_rubric
    from fsabench.console import emit_json, out

    rubric = human_rubric(name)
    if json_out:
        emit_json(rubric.model_dump(mode="json"))
        return
    out.print(f"rubric {rubric.name} v{rubric.version}: {escape(rubric.title)} (valid)", highlight=False)
    for dim in rubric.dimensions:
        scale = ", ".join(f"{c.value} [{c.key}]" for c in dim.scale)
        out.print(f"  {dim.name} ({dim.level}, per {dim.per}): {escape(scale)}", highlight=False)


@human_app.command("serve")
def serve(
    study: Study,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 = any free port)")] = 8765,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no request log")] = False,
) -> None:
    """Serve the annotation page; prints one private link per annotator."""
    from fsabench.api import human_serve
    from fsabench.console import err
    from fsabench.options import StudyServeOptions

    def ready(url: str, opened) -> None:
        err.print(f"serving study {escape(opened.folder.name)} on {url} (Ctrl-C to stop); private links:", highlight=False)
        for name, token in opened.tokens().items():
            err.print(f"  {escape(name)}: {url}/a/{token}", highlight=False, soft_wrap=True)
        print(f"READY {url}", flush=True)

    human_serve(StudyServeOptions(study=study, host=host, port=port, quiet=quiet), on_ready=ready)


@human_app.command("export")
def export(
    study: Study,
    fmt: Annotated[str, typer.Option("--format", help="label-studio (config + tasks) or csv (answers)")] = "label-studio",
    output: Annotated[Optional[Path], output_option("folder (label-studio; default STUDY/label-studio) or file "
                                                    "(csv; default stdout)")] = None,
    unblind: Annotated[bool, typer.Option("--unblind", help="csv: add the model column")] = False,
    quiet: Quiet = False,
) -> None:
    """Export the study for Label Studio, or its answers as CSV."""
    import sys

    from fsabench.api import human_export
    from fsabench.console import out
    from fsabench.options import StudyExportOptions

    done = human_export(StudyExportOptions(study=study, format=fmt, output=output, unblind=unblind))
    if isinstance(done, str) and output is None:
        sys.stdout.write(done)
    elif isinstance(done, str):
        out.print(str(output), highlight=False)
    else:
        for path in done:
            out.print(str(path), highlight=False)


@human_app.command("import")
def import_(
    study: Study,
    file: Annotated[Path, typer.Argument(help="Label Studio's JSON export of the project")],
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Read Label Studio annotations back into the study (annotators named ls:<email>)."""
    from fsabench.api import human_import
    from fsabench.console import emit_json, out

    counts = human_import(study, file)
    if json_out:
        emit_json(counts)
    else:
        out.print(f"imported {counts['answers']} answers on {counts['tasks']} tasks from {escape(str(file))}",
                  highlight=False)


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
    quiet: Quiet = False,
) -> None:
    """Rate every item with an LLM judge (stored as annotator judge:MODEL, apart from humans)."""
    from fsabench.api import human_judge
    from fsabench.console import count_bar, emit_json, err, out
    from fsabench.options import JudgeOptions, ModelOptions

    options = JudgeOptions(study=study, model_name=model, max_cost=max_cost, cache=not no_cache, cache_dir=cache_dir,
                           overwrite=overwrite, model=ModelOptions(api_base=api_base, concurrency=concurrency,
                                                                   timeout=timeout, max_retries=max_retries))
    with count_bar(not (json_out or quiet), "judge") as update:
        stats = human_judge(options, progress=update)
    if json_out:
        emit_json({"judge": stats.judge, "asked": stats.asked, "stored": stats.stored,
                   "already_done": stats.skipped_done, "failed": stats.failed, "cached": stats.cached,
                   "cost_usd": round(stats.cost_usd, 6), "stopped_by_max_cost": stats.stopped_by_max_cost,
                   "errors": stats.errors})
    else:
        out.print(f"{escape(stats.judge)}: {stats.stored} answers stored, {stats.failed} failed, "
                  f"{stats.skipped_done} already done, {stats.cached} from cache, ${stats.cost_usd:.4f}", highlight=False)
        for error in stats.errors:
            err.print(f"[yellow]failed:[/yellow] {escape(error)}", highlight=False, soft_wrap=True)
        if stats.stopped_by_max_cost:
            err.print("[yellow]stopped at --max-cost; re-run to continue (answers so far are kept)[/yellow]")
    raise typer.Exit(1 if stats.failed else 0)


@human_app.command("stats")
def stats(
    study: Study,
    output: Annotated[Optional[Path], output_option("stats file [default: STUDY/stats.json]")] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="bootstrap resamples for the 95% intervals")] = 2000,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Means with 95% intervals, hallucination rate, alpha and kappa, judge agreement, disagreements."""
    from fsabench.api import human_stats
    from fsabench.console import emit_json, out
    from fsabench.options import StudyStatsOptions

    stats, path = human_stats(StudyStatsOptions(study=study, output=output, bootstrap=bootstrap))
    if json_out:
        emit_json(stats)
        return
    print_stats(stats)
    out.print(f"written: {escape(str(path))}", highlight=False)

def _f(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def print_stats(stats: dict) -> None:
    from rich.table import Table

    from fsabench.console import out

    out.print(f"study {escape(stats['study'])}: {stats['items']} items, humans {', '.join(stats['humans']) or '(none)'}"
              f"; judges {', '.join(stats['judges']) or '(none)'}; answers {stats['answers']}", highlight=False)
    table = Table(title="per model and dimension (95% bootstrap interval over items)")
    for col in ("model", "dimension", "statistic", "items", "value", "95% CI"):
        table.add_column(col)
    for r in stats["models"]:
        ci = "–" if r["ci_low"] is None else f"[{_f(r['ci_low'])}, {_f(r['ci_high'])}]"
        table.add_row(escape(r["model"]), r["dimension"], r["statistic"], str(r["n_items"]), _f(r["value"]), ci)
    out.print(table)
    agree = Table(title="agreement among humans")
    for col in ("dimension", "level", "alpha", "units", "mean kappa", "kappa weights"):
        agree.add_column(col)
    for a in stats["agreement"]:
        agree.add_row(a["dimension"], a["level"], _f(a["alpha"], 3), str(a["units"]), _f(a["kappa_mean"], 3),
                      a["kappa_weights"])
    out.print(agree)
    if stats["judges_vs_humans"]:
        judges = Table(title="judges vs humans")
        for col in ("judge", "dimension", "mean kappa", "humans' kappa", "gives consensus"):
            judges.add_column(col)
        for j in stats["judges_vs_humans"]:
            share = None if j["consensus_agreement"] is None else 100 * j["consensus_agreement"]
            judges.add_row(escape(j["judge"]), j["dimension"], _f(j["kappa_mean"], 3), _f(j["human_kappa_mean"], 3),
                           f"{_f(share, 1)}%")
        out.print(judges)
    for d in stats["disagreements"][:5]:
        out.print(f"most disagreed: {d['item']} ({escape(d['model'])}) disagreement {d['disagreement']:.2f}",
                  highlight=False)
