"""`fsabench distill corpus|pretrain|finetune|recipe`: thin wrappers that print progress and results."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fsabench.errors import from_validation
from fsabench.console import emit_json, err, library_notices, out
from fsabench.errors import FsabenchError


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in _names(text)]
    except ValueError:
        raise FsabenchError(f"--seeds {text!r}: not a comma-separated list of integers", hint="e.g. --seeds 42,52") from None


def _emit(payload: Any) -> None:
    emit_json(payload)


def _say(quiet: bool):
    return (lambda _: None) if quiet else (lambda message: err.print(f"[dim]{message}[/dim]"))


# --- corpus ----------------------------------------------------------------------------------
def corpus_command(teacher: str | None, reviews: list[Path], fields: str | None, prompts: str, assign: str,
                   out_dir: Path, imports: list[Path], filters_file: Path | None, valid_fraction: float,
                   max_new_tokens: int, temperature: float, limit: int | None, dry_run: bool, max_cost: float | None,
                   teacher_name: str | None, model_options: dict[str, Any], price: tuple[float, float] | None,
                   quiet: bool, json_out: bool) -> int:
    from itertools import chain

    from fsabench.distill.corpus import done_keys, finalize, import_corpus, RESPONSES
    from fsabench.distill.filters import FilterSpec
    from fsabench.distill.reviews import Skipped, iter_reviews, parse_fields
    from fsabench.distill.teacher import estimate, generate, load_prompts, teacher_name_of

    if not imports and not (teacher and reviews):
        raise FsabenchError("nothing to build a corpus from", hint="give --teacher with --reviews, and/or --import FILE")
    if teacher and not reviews:
        raise FsabenchError("--teacher needs --reviews", hint="give the review file(s) the teacher should analyse")
    mapping = parse_fields(fields)
    templates = load_prompts(_names(prompts))
    filters = _load_filters(filters_file) if filters_file else FilterSpec()
    skipped = Skipped()

    def review_stream():
        return chain.from_iterable(iter_reviews(path, mapping, limit=limit, skipped=skipped) for path in reviews)

    if dry_run:
        if not teacher:
            raise FsabenchError("--dry-run estimates teacher requests", hint="give --teacher and --reviews")
        plan = estimate(review_stream(), templates, assign, done_keys(out_dir / RESPONSES), max_new_tokens, teacher, price)
        _emit(plan) if json_out else _print_estimate(plan)
        return 0
    payload: dict[str, Any] = {"out": str(out_dir)}
    if imports:
        payload["imported"] = import_corpus(imports, out_dir)
    code = 0
    if teacher:
        from fsabench.models import load_model
        from fsabench.models.cache import maybe_cached

        options = {k: v for k, v in model_options.items() if v is not None}
        use_cache, cache_dir = options.pop("cache", True), options.pop("cache_dir", None)
        adapter = maybe_cached(load_model(teacher, **options), cache_dir, use_cache)
        with _bar(not quiet and not json_out, "teacher") as update:
            stats = generate(adapter, review_stream(), templates, out_dir, teacher_name or teacher_name_of(teacher),
                             assign, max_new_tokens, temperature, max_cost, progress=update)
        stats.skipped_reviews, stats.skipped_where = skipped.missing_text, skipped.where
        payload["generation"] = stats.__dict__
        code = 1 if stats.failed else 0
    payload["report"] = finalize(out_dir, filters, valid_fraction)
    _emit(payload) if json_out else _print_corpus(payload, quiet)
    return code


def _load_filters(path: Path):
    from pydantic import ValidationError

    from fsabench.distill.filters import FilterSpec
    from fsabench.yamlfile import read_yaml

    try:
        return FilterSpec.model_validate(read_yaml(path, "filters file")[0] or {})
    except ValidationError as exc:
        raise from_validation(str(path), exc, "see docs/distill.md for the filter keys") from None


def _print_estimate(plan: dict[str, Any]) -> None:
    out.print(f"teacher {plan['teacher']}: {plan['requests']} requests to send ({plan['already_done']} already done)")
    out.print(f"  prompt tokens ~{plan['prompt_tokens']:,}; completion tokens ~{plan['completion_tokens_typical']:,} "
              f"typical, {plan['completion_tokens_max']:,} at most")
    cost = plan["cost"]
    out.print(f"  cost ~${cost['typical_usd']} typical, ${cost['max_usd']} at most" if cost else
              "  cost: unknown for this model (give --price-in/--price-out in USD per million tokens)")


def _print_corpus(payload: dict[str, Any], quiet: bool) -> None:
    if quiet:
        return
    report = payload["report"]
    if "generation" in payload:
        g = payload["generation"]
        out.print(f"teacher: {g['written']} answers written, {g['failed']} failed, {g['cached']} cached, "
                  f"${g['cost_usd']:.4f}" + (" (stopped by --max-cost)" if g["stopped_by_max_cost"] else ""))
        if g["skipped_reviews"]:
            out.print(f"reviews: skipped {g['skipped_reviews']} without text (first: {', '.join(g['skipped_where'])})")
    out.print(f"corpus: {report['responses']} responses -> {report['kept']} kept ({report['train']} train, "
              f"{report['valid']} valid); dropped {report['dropped'] or 'none'}; cut {report['cut'] or 'none'}")
    out.print(f"[dim]written to {payload['out']}/[/dim]")


@contextmanager
def _bar(enabled: bool, label: str):
    """A rich progress bar on stderr yielding update(done, total), or a no-op."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as progress:
        handle = progress.add_task(label, total=None)
        yield lambda done, total: progress.update(handle, completed=done, total=total or None)


# --- pretrain --------------------------------------------------------------------------------
@contextmanager
def pretrain_progress(enabled: bool, total: int):
    """Rich progress with step, loss, validation loss and tokens/s; yields the report callback the
    loop calls. The bar appears at the first report (a recipe may skip pretraining altogether)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("pretrain"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TextColumn("valid {task.fields[valid]}"), TextColumn("{task.fields[tps]} tok/s"),
               TimeElapsedColumn(), TimeRemainingColumn())
    progress = Progress(*columns, console=err, transient=False)
    handle = None

    def report(line: dict[str, Any]) -> None:
        nonlocal handle
        if handle is None:
            progress.start()
            handle = progress.add_task("pretrain", total=total, loss="-", valid="-", tps="-")
        fields = {"loss": f"{line['loss']:.4f}", "tps": f"{line['tokens_per_second']:,.0f}"}
        if "valid_loss" in line:
            fields["valid"] = f"{line['valid_loss']:.4f}"
        progress.update(handle, completed=line["step"], **fields)
        if line["step"] >= total:  # the last report of a run (the validation line comes after the train line)
            progress.refresh()

    try:
        yield report
    finally:
        progress.stop()


def pretrain_command(student: str, corpus: Path, out_dir: Path, valid: Path | None, settings: dict[str, Any],
                     quiet: bool, json_out: bool) -> int:
    from fsabench.distill.pretrain import PretrainConfig, pretrain

    cfg = PretrainConfig(**{k: v for k, v in settings.items() if v is not None})
    with pretrain_progress(not quiet and not json_out, cfg.steps) as report:
        summary = pretrain(student, corpus, out_dir, cfg, valid=valid, report=report)
    if json_out:
        _emit(summary)
    elif not quiet:
        valid_loss = summary["valid"][-1]["loss"] if summary["valid"] else None
        out.print(f"pretrained {summary['steps']} steps: train loss {summary['final_loss']:.4f}, valid loss "
                  f"{valid_loss}, {summary['tokens_per_second']} tokens/s")
        out.print(f"[dim]student saved to {out_dir}/ (evaluate or fine-tune it as hf:{out_dir})[/dim]")
    return 0


# --- finetune --------------------------------------------------------------------------------
def _job_printer(quiet: bool):
    def done(outcome) -> None:
        if quiet:
            return
        if outcome.error:
            err.print(f"[red]{outcome.task} seed {outcome.seed} failed: {outcome.error}[/red]")
            return
        verb = "skipped (result exists)" if outcome.skipped else f"best epoch {outcome.best_epoch}"
        err.print(f"[dim]{outcome.task} seed {outcome.seed}: {verb}, test {outcome.scores.get('all')}[/dim]")
    return done


def aggregate_table(summary: dict[str, Any]):
    from rich.table import Table

    table = Table(title=f"{summary['model']} ({summary['protocol']}, mean ± std over seeds)")
    for column in ("task", "subset", "seeds", "mean", "std"):
        table.add_column(column, justify="left" if column in ("task", "subset") else "right")
    for task, info in summary["tasks"].items():
        for subset, s in info["subsets"].items():
            table.add_row(task, subset, str(len(s["values"])), "–" if s["mean"] is None else f"{s['mean']:.2f}",
                          "–" if s["std"] is None else f"{s['std']:.2f}")
    return table


def finetune_command(model: str, tasks: str, seeds: str, output: Path, work: Path, settings: dict[str, Any],
                     executor: str, workers: int, keep: bool, data_dir: Path | None, tasks_dir: list[str] | None,
                     quiet: bool, json_out: bool, shared_dir: Path | None = None) -> int:
    from fsabench.distill.finetune import FinetuneConfig
    from fsabench.distill.sweep import SweepOptions, plan_jobs, sweep
    from fsabench.settings import data_dir as resolve_data_dir

    config = FinetuneConfig(**{k: v for k, v in settings.items() if v is not None})
    jobs = plan_jobs(model, model, _names(tasks), _seeds(seeds), output, work, resolve_data_dir(data_dir), config,
                     tuple(tasks_dir or ()), keep)
    with library_notices(quiet or json_out):  # epoch and dev score as each epoch ends
        summary = sweep(jobs, work, SweepOptions(executor, workers, keep=keep, shared_dir=shared_dir),
                        _job_printer(quiet or json_out))
    if json_out:
        _emit(summary)
    elif not quiet:
        out.print(aggregate_table(summary))
        out.print(f"[dim]RunResults in {output}/, aggregate in {work}/aggregate.json[/dim]")
    return 1 if summary["errors"] else 0


# --- recipe ----------------------------------------------------------------------------------
def recipe_command(recipe: str, overrides: list[str], out_dir: Path | None, ablation: str | None,
                   executor: str | None, workers: int | None, keep: bool | None, data_dir: Path | None,
                   quiet: bool, json_out: bool, shared_dir: Path | None = None, plan: bool = False) -> int:
    from fsabench.distill.recipe import ABLATIONS, load_recipe
    from fsabench.distill.stages import run_recipe
    from fsabench.settings import data_dir as resolve_data_dir

    clock = time.perf_counter()
    spec, path = load_recipe(recipe, overrides)
    target = out_dir or Path(spec.out or f"runs/{spec.name}")
    if ablation is not None and ablation not in ABLATIONS:
        raise FsabenchError(f"unknown ablation {ablation!r}", hint=f"use one of {', '.join(ABLATIONS)}")
    if plan:
        from fsabench.distill.plan import plan_recipe

        settings = plan_recipe(spec, path, target, resolve_data_dir(data_dir), ablation, executor, workers, keep,
                               shared_dir)
        if json_out:
            _emit(settings)
        else:
            import yaml

            out.print(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True, width=110), markup=False,
                      highlight=False)
        return 0
    say = _say(quiet or json_out)
    say(f"recipe {spec.name} ({path}) -> {target}/")
    main_rank = os.environ.get("RANK", "0") == "0"  # under accelerate launch, one bar and one table
    with library_notices(quiet or json_out or not main_rank), \
            pretrain_progress(not quiet and not json_out and main_rank, spec.pretrain.steps) as report:
        result = run_recipe(spec, path, target, resolve_data_dir(data_dir), say, ablation, executor, workers, keep,
                            pretrain_report=report, on_done=_job_printer(quiet or json_out), shared_dir=shared_dir)
    result["wall_seconds"] = round(time.perf_counter() - clock, 1)
    if result.get("finetune") is None:  # a rank other than 0 under accelerate launch: rank 0 reports
        return 0
    if json_out:
        _emit(result)
    elif not quiet:
        out.print(aggregate_table(result["finetune"]))
        out.print(f"[dim]recipe {spec.name} finished in {result['wall_seconds']:.0f} s; outputs in {target}/[/dim]")
    return 1 if result["finetune"]["errors"] else 0
