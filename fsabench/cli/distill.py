"""`fsabench distill corpus|pretrain|finetune|recipe`: the distillation recipe, stage by stage or whole."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

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
    from fsabench.commands.distill import corpus_command

    price = (price_in or 0.0, price_out or 0.0) if price_in is not None or price_out is not None else None
    options = {"concurrency": concurrency, "api_base": api_base, "timeout": timeout, "max_retries": max_retries,
               "cache": not no_cache, "cache_dir": cache_dir}
    raise typer.Exit(corpus_command(teacher, reviews or [], fields, prompts, assign, output, imports or [], filters,
                                    valid_fraction, max_new_tokens, temperature, limit, dry_run, max_cost,
                                    teacher_name, options, price, quiet, json_out))


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
    from fsabench.commands.distill import pretrain_command

    settings = {"steps": steps, "batch_size": batch_size, "micro_batch_size": micro_batch_size, "lr": lr,
                "final_lr": final_lr, "warmup_steps": warmup_steps, "max_input_tokens": max_input_tokens,
                "max_target_tokens": max_target_tokens, "save_every": save_every, "eval_every": eval_every,
                "keep_checkpoints": keep_checkpoints, "seed": seed, "device": device, "dtype": dtype, "threads": threads,
                "batching": batching, "shuffle": shuffle}
    raise typer.Exit(pretrain_command(student, corpus, output, valid, settings, quiet, json_out))


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
    from fsabench.commands.distill import finetune_command

    settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                "train_limit": train_limit, "dev_limit": dev_limit, "test_limit": limit, "device": device,
                "threads": threads}
    raise typer.Exit(finetune_command(model, tasks, seeds, output, work, settings, executor, workers, keep,
                                      data_dir, tasks_dir, quiet, json_out, shared_dir))


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
    data_dir: DataDir = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Run a recipe: corpus, student, pretraining, fine-tuning and evaluation, skipping finished stages."""
    from fsabench.commands.distill import recipe_command

    if check:
        from fsabench.distill.readiness import check_main

        raise typer.Exit(check_main(recipe, overrides or [], data_dir, quiet, json_out))
    if sweep:
        from fsabench.distill.scaling import sweep_main

        raise typer.Exit(sweep_main(recipe, overrides or [], sweep, output, data_dir, executor, workers, keep,
                                    shared_dir, quiet, json_out))

    raise typer.Exit(recipe_command(recipe, overrides or [], output, ablation, executor, workers, keep, data_dir,
                                    quiet, json_out, shared_dir, plan))
