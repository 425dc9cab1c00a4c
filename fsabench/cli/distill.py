"""`fsabench distill corpus|pretrain|finetune|recipe`: the distillation recipe, stage by stage or whole."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from fsabench.cli.common import ApiBase, CacheDir, Concurrency, DataDir, JsonOut, MaxCost, MaxRetries, NoCache, Quiet, Tasks, TasksDir, Threads, Timeout, group

distill_app = group("distill", "Distill a student: teacher corpus, pretraining, multi-seed fine-tuning, recipes.")


@distill_app.command("corpus")
def distill_corpus(
    output: Annotated[Path, typer.Option("--output", "-o", help="corpus folder (responses.jsonl, corpus.jsonl, valid.jsonl, report.json)")],
    teacher: Annotated[Optional[str], typer.Option("--teacher", help="teacher model, e.g. litellm:openai/gpt-4o-mini or openai-compat:URL#NAME")] = None,
    reviews: Annotated[Optional[list[Path]], typer.Option("--reviews", help="reviews file, JSONL or CSV (repeatable)")] = None,
    fields: Annotated[Optional[str], typer.Option("--fields", help="column mapping, e.g. text=reviewText,id=asin,overall=stars (default: Text, ID, Overall)")] = None,
    prompts: Annotated[str, typer.Option("--prompts", help="comma-separated: analysis, rewrite, or paths to .j2 files")] = "analysis,rewrite",
    assign: Annotated[str, typer.Option("--assign", help="both (alias each): every prompt per review, the paper's | random: one prompt per review")] = "both",
    imports: Annotated[Optional[list[Path]], typer.Option("--import", help="seed-format JSONL to import, e.g. the 500-line teacher file (repeatable)")] = None,
    filters: Annotated[Optional[Path], typer.Option("--filters", help="YAML of quality filters (the recipe's corpus.filters keys)")] = None,
    valid_fraction: Annotated[float, typer.Option("--valid-fraction", help="share held out (by hash) for the validation loss")] = 0.01,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="teacher token budget per response")] = 600,
    temperature: Annotated[float, typer.Option(help="teacher sampling temperature")] = 0.0,
    limit: Annotated[Optional[int], typer.Option(help="use only the first N reviews of each file")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="estimate requests, tokens and cost; send nothing")] = False,
    max_cost: MaxCost = None,
    teacher_name: Annotated[Optional[str], typer.Option("--teacher-name", help="names the <teacher>_response field, e.g. mixtral")] = None,
    price_in: Annotated[Optional[float], typer.Option("--price-in", help="dry run: USD per million prompt tokens")] = None,
    price_out: Annotated[Optional[float], typer.Option("--price-out", help="dry run: USD per million completion tokens")] = None,
    concurrency: Concurrency = 16,
    api_base: ApiBase = None,
    timeout: Timeout = 120.0,
    max_retries: MaxRetries = 6,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Build a teacher corpus: ask a teacher to analyse and rewrite reviews, and/or import seed-format files; filter."""
    from fsabench.api import distill_corpus
    from fsabench.console import count_bar, emit_json
    from fsabench.options import CorpusOptions, ModelOptions

    price = (price_in or 0.0, price_out or 0.0) if price_in is not None or price_out is not None else None
    options = CorpusOptions(output=output, teacher=teacher, reviews=tuple(reviews or ()), fields=fields, prompts=prompts,
                            assign=assign, imports=tuple(imports or ()), filters=filters, valid_fraction=valid_fraction,
                            max_new_tokens=max_new_tokens, temperature=temperature, limit=limit, dry_run=dry_run,
                            max_cost=max_cost, teacher_name=teacher_name, price=price, cache=not no_cache,
                            cache_dir=cache_dir, model=ModelOptions(concurrency=concurrency, api_base=api_base,
                                                                    timeout=timeout, max_retries=max_retries))
    with count_bar(not quiet and not json_out and not dry_run and teacher is not None, "teacher") as update:
        payload = distill_corpus(options, progress=update)
    if json_out:
        emit_json(payload)
    elif dry_run:
        print_estimate(payload)
    else:
        print_corpus(payload, quiet)
    raise typer.Exit(1 if payload.get("generation", {}).get("failed") else 0)


@distill_app.command("pretrain")
def distill_pretrain(
    student: Annotated[str, typer.Option("--student", help="seq2seq student, e.g. hf:google-t5/t5-base or hf:DIR")],
    corpus: Annotated[Path, typer.Option("--corpus", help="corpus folder (from `distill corpus`) or a JSONL file")],
    output: Annotated[Path, typer.Option("--output", "-o", help="output folder; resumes from its newest checkpoint")],
    valid: Annotated[Optional[Path], typer.Option("--valid", help="held-out JSONL (default: the corpus folder's valid.jsonl, else a hash hold-out)")] = None,
    steps: Annotated[Optional[int], typer.Option(help="optimizer steps (default: 200000)")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="sequences per optimizer step over all processes (default: 100)")] = None,
    micro_batch_size: Annotated[Optional[int], typer.Option("--micro-batch-size", help="sequences per forward pass (default: 20)")] = None,
    lr: Annotated[Optional[float], typer.Option(help="where the cosine starts (AdamWScale) (default: 1.5e-3, the seed's effective rate)")] = None,
    final_lr: Annotated[Optional[float], typer.Option("--final-lr", help="where the cosine ends (default: 1e-5)")] = None,
    warmup_steps: Annotated[Optional[int], typer.Option("--warmup-steps", help="default 0")] = None,
    max_input_tokens: Annotated[Optional[int], typer.Option("--max-input-tokens", help="review tokens (default: 128)")] = None,
    max_target_tokens: Annotated[Optional[int], typer.Option("--max-target-tokens", help="response tokens (default: 400)")] = None,
    save_every: Annotated[Optional[int], typer.Option("--save-every", help="checkpoint every N steps (default: 2000)")] = None,
    eval_every: Annotated[Optional[int], typer.Option("--eval-every", help="validation loss every N steps (default: 2000)")] = None,
    keep_checkpoints: Annotated[Optional[int], typer.Option("--keep-checkpoints", help="newest checkpoints kept (default: 2)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="default 42")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto|cpu|cuda|mps")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="auto (bf16 where supported)|float32|bfloat16|float16")] = None,
    threads: Threads = None,
    batching: Annotated[Optional[str], typer.Option("--batching", help="random (the paper's) | bucket (by length, token-weighted loss; faster)")] = None,
    shuffle: Annotated[Optional[bool], typer.Option("--shuffle/--no-shuffle", help="a new order of the whole corpus every epoch (default: on)")] = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Pretrain a student on teacher responses (review -> response), the paper's recipe; output loads as hf:OUT."""
    from fsabench.api import distill_pretrain, pretrain_steps
    from fsabench.console import emit_json, out, pretrain_progress
    from fsabench.options import PretrainOptions

    settings = {"steps": steps, "batch_size": batch_size, "micro_batch_size": micro_batch_size, "lr": lr,
                "final_lr": final_lr, "warmup_steps": warmup_steps, "max_input_tokens": max_input_tokens,
                "max_target_tokens": max_target_tokens, "save_every": save_every, "eval_every": eval_every,
                "keep_checkpoints": keep_checkpoints, "seed": seed, "device": device, "dtype": dtype, "threads": threads,
                "batching": batching, "shuffle": shuffle}
    options = PretrainOptions(student=student, corpus=corpus, output=output, valid=valid, settings=settings)
    with pretrain_progress(not quiet and not json_out, pretrain_steps(options)) as report:
        summary = distill_pretrain(options, report=report)
    if json_out:
        emit_json(summary)
    elif not quiet:
        valid_loss = summary["valid"][-1]["loss"] if summary["valid"] else None
        out.print(f"pretrained {summary['steps']} steps: train loss {summary['final_loss']:.4f}, valid loss "
                  f"{valid_loss}, {summary['tokens_per_second']} tokens/s")
        out.print(f"[dim]student saved to {output}/ (evaluate or fine-tune it as hf:{output})[/dim]")


@distill_app.command("finetune")
def distill_finetune(
    model: Annotated[str, typer.Option("--model", "-m", help="the student, e.g. hf:runs/student")],
    tasks: Tasks = "fsa",
    seeds: Annotated[str, typer.Option("--seeds", help="comma-separated seeds")] = "42,52,62,72,82,142,152,162,172,182",
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for RunResult JSON files")] = Path("results"),
    work: Annotated[Path, typer.Option("--work", help="folder for checkpoints and aggregate.json")] = Path("runs/finetune"),
    epochs: Annotated[Optional[int], typer.Option(help="default 20")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="default 16")] = None,
    lr: Annotated[Optional[float], typer.Option(help="AdamW learning rate, linear decay (default: 3e-4)")] = None,
    weight_decay: Annotated[Optional[float], typer.Option("--weight-decay", help="default 0.01")] = None,
    train_limit: Annotated[Optional[int], typer.Option("--train-limit", help="train on the first N examples only")] = None,
    dev_limit: Annotated[Optional[int], typer.Option("--dev-limit", help="select the epoch on the first N dev examples")] = None,
    limit: Annotated[Optional[int], typer.Option(help="test on the first N test examples only")] = None,
    executor: Annotated[str, typer.Option("--executor", help="local | ray")] = "local",
    workers: Annotated[int, typer.Option(help="local executor: jobs at once (spawned processes)")] = 1,
    keep: Annotated[bool, typer.Option("--keep", help="keep each seed's best checkpoint after testing")] = False,
    device: Annotated[Optional[str], typer.Option(help="auto|cpu|cuda|mps")] = None,
    threads: Threads = None,
    shared_dir: Annotated[Optional[Path], typer.Option("--shared-dir", help="ray: absolute folder every worker sees (student, data, outputs under it)")] = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Fine-tune over seeds, test each seed's best-dev epoch through the runner; RunResults + mean/std."""
    from fsabench.api import distill_finetune
    from fsabench.console import emit_json, library_notices, out
    from fsabench.options import FinetuneOptions

    settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                "train_limit": train_limit, "dev_limit": dev_limit, "test_limit": limit, "device": device,
                "threads": threads}
    options = FinetuneOptions(model_name=model, tasks=tasks, seeds=seeds, output=output, work=work, settings=settings,
                              executor=executor, workers=workers, keep=keep, shared_dir=shared_dir, data_dir=data_dir,
                              tasks_dir=tuple(tasks_dir or ()))
    with library_notices(quiet or json_out):  # epoch and dev score as each epoch ends
        summary = distill_finetune(options, on_done=job_printer(quiet or json_out))
    if json_out:
        emit_json(summary)
    elif not quiet:
        out.print(aggregate_table(summary))
        out.print(f"[dim]RunResults in {output}/, aggregate in {work}/aggregate.json[/dim]")
    raise typer.Exit(1 if summary["errors"] else 0)


@distill_app.command("recipe")
def distill_recipe(
    recipe: Annotated[str, typer.Argument(help="recipe YAML, or a shipped one: tiny.yaml, paper.yaml")],
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="override a setting, e.g. --set pretrain.steps=20 (repeatable)")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="output folder (default: the recipe's out, else runs/NAME)")] = None,
    ablation: Annotated[Optional[str], typer.Option("--ablation", help="no-pretrain: fine-tune the same student without distillation pretraining")] = None,
    executor: Annotated[Optional[str], typer.Option("--executor", help="local | ray (default: the recipe's)")] = None,
    workers: Annotated[Optional[int], typer.Option(help="local executor: jobs at once")] = None,
    keep: Annotated[Optional[bool], typer.Option("--keep/--no-keep", help="keep fine-tuning checkpoints after testing")] = None,
    shared_dir: Annotated[Optional[Path], typer.Option("--shared-dir", help="ray: absolute folder every worker sees (student, data, outputs under it)")] = None,
    plan: Annotated[bool, typer.Option("--plan", help="print every stage's fully resolved settings; run nothing")] = False,
    sweep: Annotated[Optional[str], typer.Option("--sweep", help="run once per value into OUT/KEY=VALUE, e.g. corpus.size=50000,100000 (the teacher is asked once)")] = None,
    check: Annotated[bool, typer.Option("--check", help="GPU readiness on this CPU: the student built from its config runs pretraining micro-batches and a fine-tuning step at the recipe's shapes; memory per device")] = False,
    check_memory: Annotated[Optional[float], typer.Option("--check-memory", help="with --check: plan the check's batches within this many GiB here (default: 80% of what is free); a batch that does not fit runs fewer sequences at the full lengths")] = None,
    data_dir: DataDir = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Run a recipe: corpus, student, pretraining, fine-tuning and evaluation, skipping finished stages."""
    import os
    import time

    from fsabench import api
    from fsabench.console import emit_json, err, library_notices, out, pretrain_progress
    from fsabench.options import RecipeOptions

    clock = time.perf_counter()
    options = RecipeOptions(recipe=recipe, overrides=tuple(overrides or ()), output=output, ablation=ablation,
                            executor=executor, workers=workers, keep=keep, shared_dir=shared_dir, data_dir=data_dir)
    if check_memory is not None and not check:
        from fsabench.errors import FsabenchError

        raise FsabenchError("--check-memory: it plans the --check run's batches",
                            hint="add --check, or drop --check-memory")
    if check:
        from fsabench.distill.readiness import render

        with library_notices(quiet or json_out):
            readiness = api.check_recipe(options, memory_gib=check_memory)
        emit_json(readiness) if json_out else (None if quiet else out.print(render(readiness), markup=False,
                                                                               highlight=False))
        return
    if sweep:
        from fsabench.distill.scaling import sweep_table

        silent = quiet or json_out
        with library_notices(silent):
            summary = api.sweep_recipe(options, sweep, say=(lambda _: None) if silent else
                                       (lambda message: err.print(f"[dim]{message}[/dim]")),
                                       on_done=job_printer(silent))
        if json_out:
            emit_json(summary)
        elif not quiet:
            out.print(sweep_table(summary))
            out.print(f"[dim]the scaling section: {summary['report']}[/dim]")
        raise typer.Exit(1 if any(p["errors"] for p in summary["points"]) else 0)
    if plan:
        settings = api.plan_recipe(options)
        if json_out:
            emit_json(settings)
        else:
            import yaml

            out.print(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True, width=110), markup=False,
                      highlight=False)
        return
    spec, path, target = api.load_recipe(options)
    silent = quiet or json_out
    say = (lambda _: None) if silent else (lambda message: err.print(f"[dim]{message}[/dim]"))
    say(f"recipe {spec.name} ({path}) -> {target}/")
    main_rank = os.environ.get("RANK", "0") == "0"  # under accelerate launch, one bar and one table
    with library_notices(silent or not main_rank), \
            pretrain_progress(not silent and main_rank, spec.pretrain.steps) as report:
        result = api.distill_recipe(options, say=say, pretrain_report=report, on_done=job_printer(silent))
    result["wall_seconds"] = round(time.perf_counter() - clock, 1)
    if result.get("finetune") is None:  # a rank other than 0 under accelerate launch: rank 0 reports
        return
    if json_out:
        emit_json(result)
    elif not quiet:
        out.print(aggregate_table(result["finetune"]))
        out.print(f"[dim]recipe {spec.name} finished in {result['wall_seconds']:.0f} s; outputs in {target}/[/dim]")
    raise typer.Exit(1 if result["finetune"]["errors"] else 0)


def print_estimate(plan: dict[str, Any]) -> None:
    from fsabench.console import out

    out.print(f"teacher {plan['teacher']}: {plan['requests']} requests to send ({plan['already_done']} already done)")
    out.print(f"  prompt tokens ~{plan['prompt_tokens']:,}; completion tokens ~{plan['completion_tokens_typical']:,} "
              f"typical, {plan['completion_tokens_max']:,} at most")
    cost = plan["cost"]
    out.print(f"  cost ~${cost['typical_usd']} typical, ${cost['max_usd']} at most" if cost else
              "  cost: unknown for this model (give --price-in/--price-out in USD per million tokens)")


def print_corpus(payload: dict[str, Any], quiet: bool) -> None:
    from fsabench.console import out

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


def job_printer(quiet: bool):
    """One stderr line per finished fine-tuning job (seed)."""
    from fsabench.console import err

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
