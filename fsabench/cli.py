"""The `fsabench` command line: VERB [NOUN] [OPTIONS]. Library errors become one line, exit code 1."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.errors import FsabenchError

app = typer.Typer(no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False,
                  help="Fine-grained sentiment analysis as a benchmark anyone can run, extend and publish.")
tasks_app = typer.Typer(help="List, show and validate tasks.", no_args_is_help=True)
data_app = typer.Typer(help="Download, verify and locate benchmark data.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
app.add_typer(data_app, name="data")

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", envvar="FSABENCH_DATA_DIR",
                                                 help="data directory [env FSABENCH_DATA_DIR]")]
TasksDir = Annotated[Optional[list[str]], typer.Option("--tasks-dir", help="extra task YAML folder (repeatable; "
                                                       "also FSABENCH_TASKS_PATH)")]
JsonOut = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]


def _emit_json(payload: object) -> None:
    sys.stdout.write(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


# --- run -------------------------------------------------------------------------------------
@app.command()
def run(
    model: Annotated[str, typer.Option("--model", "-m", help="SCHEME:NAME, e.g. baseline:lexicon, hf:PATH")] = "baseline:lexicon",
    tasks: Annotated[str, typer.Option("--tasks", "-t", help="comma-separated task or group names")] = "fsa",
    limit: Annotated[Optional[int], typer.Option(help="score only the first N test examples")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for RunResult JSON files")] = Path("results"),
    overwrite: Annotated[bool, typer.Option(help="re-run (model, task) pairs that already have results")] = False,
    seed: Annotated[int, typer.Option(help="seed recorded in results and used to draw few-shot examples")] = 0,
    num_shots: Annotated[int, typer.Option("--num-shots", help="demonstrations per prompt (chat models)")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", help="local models: sequences per forward pass")] = 16,
    device: Annotated[str, typer.Option(help="local models: auto|cpu|cuda|mps")] = "auto",
    dtype: Annotated[str, typer.Option(help="local models: auto|float32|bfloat16|float16")] = "auto",
    max_new_tokens: Annotated[Optional[int], typer.Option("--max-new-tokens", help="override the task's budget")] = None,
    concurrency: Annotated[int, typer.Option(envvar="FSABENCH_CONCURRENCY", help="API models: requests in flight [env FSABENCH_CONCURRENCY]")] = 16,
    api_base: Annotated[Optional[str], typer.Option("--api-base", help="API models: endpoint URL, e.g. http://127.0.0.1:8000/v1")] = None,
    timeout: Annotated[float, typer.Option(help="API models: seconds per request attempt")] = 60.0,
    max_retries: Annotated[int, typer.Option("--max-retries", help="API models: retries after a 429/5xx/timeout/drop")] = 6,
    max_cost: Annotated[Optional[float], typer.Option("--max-cost", help="stop cleanly once this many USD are spent (re-run to resume)")] = None,
    allow_failures: Annotated[bool, typer.Option("--allow-failures", help="exit 0 even when some requests failed")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="bypass the response cache")] = False,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", envvar="FSABENCH_CACHE_DIR", help="response cache folder [env FSABENCH_CACHE_DIR]")] = None,
    scoring: Annotated[str, typer.Option(help="generate | likelihood (classification with local models)")] = "generate",
    prompt_style: Annotated[Optional[str], typer.Option("--prompt-style", help="raw | chat [default: the model's own]")] = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or table")] = False,
    json_out: JsonOut = False,
) -> None:
    """Run tasks on a model, write one RunResult per task and print the score table."""
    from fsabench.commands.run import run_command

    model_options = {"batch_size": batch_size, "device": device, "dtype": dtype, "max_new_tokens": max_new_tokens,
                     "concurrency": concurrency, "api_base": api_base, "timeout": timeout,
                     "max_retries": max_retries, "prompt_style": prompt_style, "seed": seed}
    run_options = {"max_cost": max_cost, "allow_failures": allow_failures, "scoring": scoring,
                   "cache": not no_cache, "cache_dir": cache_dir}
    code = run_command(model=model, tasks=tasks, limit=limit, output=output, overwrite=overwrite, seed=seed,
                       num_shots=num_shots, model_options=model_options,
                       data_dir=data_dir, tasks_dir=tasks_dir, quiet=quiet or json_out, json_out=json_out,
                       run_options=run_options)
    raise typer.Exit(code)


# --- score -----------------------------------------------------------------------------------
@app.command()
def score(
    predictions: Annotated[Path, typer.Argument(help="JSONL: one {\"id\": ..., \"output\": ...} per example")],
    task: Annotated[str, typer.Option("--task", help="the task the predictions answer")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="also write a RunResult here")] = None,
    model_name: Annotated[str, typer.Option("--model-name", help="model name recorded in the RunResult")] = "external:predictions",
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
) -> None:
    """Score predictions made anywhere else, exactly as `run` would."""
    from fsabench.commands.score import score_command

    score_command(predictions, task, output, model_name, data_dir, tasks_dir, json_out)


# --- tasks -----------------------------------------------------------------------------------
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


# --- data ------------------------------------------------------------------------------------
Bundles = Annotated[str, typer.Option("--bundles", help="comma-separated: fsa, sentibench, aste-v2, asqp, all")]


@data_app.command("pull")
def data_pull(data_dir: DataDir = None, bundles: Bundles = "fsa,sentibench", json_out: JsonOut = False) -> None:
    """Download the pinned benchmark files, verify each sha256 (idempotent, resumes)."""
    from fsabench.commands.data import pull_data

    pull_data(data_dir, bundles, json_out)


@data_app.command("verify")
def data_verify(data_dir: DataDir = None, bundles: Bundles = "fsa,sentibench", json_out: JsonOut = False) -> None:
    """Re-check every pinned file's sha256; exit 1 if any is missing or changed."""
    from fsabench.commands.data import verify_data

    verify_data(data_dir, bundles, json_out)


@data_app.command("path")
def data_path(data_dir: DataDir = None) -> None:
    """Print the data directory."""
    from fsabench.settings import data_dir as resolve

    typer.echo(str(resolve(data_dir)))


# --- commands added by other capabilities register below ----------------------------------
# (each lives in fsabench/commands/<name>.py and adds itself with one line here)

# --- serve, export (fsabench/commands/serve.py, fsabench/commands/export.py) ---
@app.command()
def serve(
    model: Annotated[str, typer.Option("--model", "-m", help="the model to serve, e.g. hf:./runs/student")],
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 = pick a free one)")] = 8000,
    name: Annotated[Optional[str], typer.Option("--name", help="model id clients send [default: the folder name]")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="requests answered together")] = 16,
    batch_wait_ms: Annotated[float, typer.Option("--batch-wait-ms", help="how long to gather a batch")] = 5.0,
    device: Annotated[str, typer.Option(help="local models: auto|cpu|cuda|mps")] = "auto",
    dtype: Annotated[str, typer.Option(help="local models: auto|float32|bfloat16|float16")] = "auto",
    gguf_file: Annotated[Optional[str], typer.Option("--gguf-file", help="hf: a GGUF file inside the model folder")] = None,
) -> None:
    """Serve a local model over an OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models)."""
    from fsabench.commands.serve import serve_command

    serve_command(model, host, port, name, batch_size, batch_wait_ms,
                  {"batch_size": batch_size, "device": device, "dtype": dtype, "gguf_file": gguf_file})


export_app = typer.Typer(help="Export tasks to other evaluation harnesses.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("lm-eval")
def export_lm_eval(
    out_dir: Annotated[Path, typer.Argument(help="folder for the lm-eval task YAMLs (pass it to --include_path)")],
    tasks: Annotated[str, typer.Option("--tasks", "-t", help="comma-separated task or group names")] = "fsa",
    prompt_style: Annotated[str, typer.Option("--prompt-style", help="raw (fine-tuned students) | chat (instruction LLMs)")] = "raw",
    num_shots: Annotated[int, typer.Option("--num-shots", help="demonstrations baked into each prompt (chat)")] = 0,
    seed: Annotated[int, typer.Option(help="seed that draws the demonstrations")] = 0,
    scoring: Annotated[str, typer.Option(help="generate | likelihood (classification tasks)")] = "generate",
    seq2seq: Annotated[bool, typer.Option("--seq2seq", help="for seq2seq models: cap lm-eval's decoder at the task's token budget")] = False,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
) -> None:
    """Write lm-eval task YAMLs + helper so `lm_eval --include_path OUT_DIR` runs the same benchmark."""
    from fsabench.commands.export import export_lmeval_command

    export_lmeval_command(out_dir, tasks, prompt_style, num_shots, seed, scoring, seq2seq, data_dir, tasks_dir,
                          json_out)


# --- report (fsabench/commands/report.py) ---
@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="RunResult JSON files or folders (searched recursively)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the report")] = Path("report"),
    formats: Annotated[str, typer.Option("--format", help="comma-separated: md, latex, html, csv, json")] = "md,latex,html,csv,json",
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="model name every row is compared with")] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", help="paper: every format, PDF figures, per-subset tables")] = None,
    figures: Annotated[str, typer.Option("--figures", help="figure files: comma-separated png, svg, pdf, or none")] = "png,svg",
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="bootstrap resamples for CIs and paired tests (0 = off)")] = 1000,
    json_out: JsonOut = False,
) -> None:
    """Tables (seed mean ± std, 95% CIs, paired tests) and charts from RunResult files."""
    from fsabench.commands.report import report_command

    report_command(runs, out, formats, baseline, preset, figures, bootstrap, json_out)


# --- leaderboard (fsabench/commands/leaderboard.py) ---
leaderboard_app = typer.Typer(help="Submit, verify, publish and host leaderboards of verified results.",
                              no_args_is_help=True)
app.add_typer(leaderboard_app, name="leaderboard")
LeaderboardsDir = Annotated[Optional[Path], typer.Option("--leaderboards-dir", envvar="FSABENCH_LEADERBOARDS_DIR",
                            help="folder holding <name>/leaderboard.yaml [env FSABENCH_LEADERBOARDS_DIR; default ./leaderboards]")]


@leaderboard_app.command("submit")
def leaderboard_submit(
    runs: Annotated[list[Path], typer.Argument(help="RunResult JSON files or folders (every task; every seed)")],
    leaderboard: Annotated[str, typer.Option("--leaderboard", "-l", help="leaderboard name, e.g. fsa")],
    name: Annotated[str, typer.Option("--name", help="display name of the entry (plain text)")],
    category: Annotated[str, typer.Option("--category", help="one of the leaderboard's categories, e.g. fine-tuned")],
    parameters: Annotated[Optional[int], typer.Option("--parameters", help="parameter count [default: from the runs]")] = None,
    base_model: Annotated[Optional[str], typer.Option("--base-model", help="what the model was built from")] = None,
    link: Annotated[Optional[str], typer.Option("--link", help="http(s) page about the model")] = None,
    license: Annotated[Optional[str], typer.Option("--license", help="the model's license")] = None,
    date: Annotated[Optional[str], typer.Option("--date", help="YYYY-MM-DD [default: when the runs finished]")] = None,
    notes: Annotated[Optional[str], typer.Option("--notes", help="free text shown on the model page")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="write here instead of submissions/<slug>.json")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing submission file")] = False,
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
) -> None:
    """Bundle RunResults with metadata, verify them (hashes, coverage, re-scored outputs) and write the submission."""
    from fsabench.commands.leaderboard import submit_command

    fields = {"name": name, "category": category, "parameters": parameters, "base_model": base_model, "link": link,
              "license": license, "date": date, "notes": notes}
    submit_command(runs, leaderboard, fields, output, overwrite, leaderboards_dir, data_dir, tasks_dir, json_out)


@leaderboard_app.command("verify")
def leaderboard_verify(
    path: Annotated[Optional[Path], typer.Argument(help="a submission file or folder [default: every leaderboard's submissions]")] = None,
    leaderboard: Annotated[Optional[str], typer.Option("--leaderboard", "-l", help="check against this leaderboard")] = None,
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
) -> None:
    """Re-check submissions (schema, hashes, coverage, re-scored outputs); exit 1 if any is rejected."""
    from fsabench.commands.leaderboard import verify_command

    raise typer.Exit(verify_command(path, leaderboard, leaderboards_dir, data_dir, tasks_dir, json_out))


@leaderboard_app.command("build")
def leaderboard_build(
    name: Annotated[str, typer.Argument(help="leaderboard name, e.g. fsa")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the static site")] = Path("site"),
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
) -> None:
    """Verify every submission and render the static site (works from file://)."""
    from fsabench.commands.leaderboard import build_command

    build_command(name, out, leaderboards_dir, data_dir, tasks_dir, json_out)


@leaderboard_app.command("serve")
def leaderboard_serve(
    name: Annotated[str, typer.Argument(help="leaderboard name, e.g. fsa")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 = any free port)")] = 8765,
    db: Annotated[Optional[Path], typer.Option("--db", envvar="FSABENCH_LEADERBOARD_DB",
                                               help="SQLite file [env FSABENCH_LEADERBOARD_DB; default: user data dir]")] = None,
    tokens_file: Annotated[Optional[Path], typer.Option("--tokens-file", help="file with one submit token per line "
                                                        "(also FSABENCH_LEADERBOARD_TOKENS, comma-separated)")] = None,
    import_folder: Annotated[bool, typer.Option(help="load the folder's verified submissions at start")] = True,
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
) -> None:
    """Host the leaderboard: token-authenticated POST of bundles, ranked table as JSON and HTML."""
    from fsabench.commands.leaderboard import serve_command

    serve_command(name, host, port, db, tokens_file, leaderboards_dir, data_dir, tasks_dir, import_folder)


# --- distill (fsabench/commands/distill.py) ---
distill_app = typer.Typer(help="Distill a student: teacher corpus, pretraining, multi-seed fine-tuning, recipes.",
                          no_args_is_help=True)
app.add_typer(distill_app, name="distill")
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress or tables")]


@distill_app.command("corpus")
def distill_corpus(
    out: Annotated[Path, typer.Option("--out", "-o", help="corpus folder (responses.jsonl, corpus.jsonl, valid.jsonl, report.json)")],
    teacher: Annotated[Optional[str], typer.Option("--teacher", help="teacher model, e.g. litellm:openai/gpt-4o-mini or openai-compat:URL#NAME")] = None,
    reviews: Annotated[Optional[list[Path]], typer.Option("--reviews", help="reviews file, JSONL or CSV (repeatable)")] = None,
    fields: Annotated[Optional[str], typer.Option("--fields", help="column mapping, e.g. text=reviewText,id=asin,overall=stars (default: Text, ID, Overall)")] = None,
    prompts: Annotated[str, typer.Option("--prompts", help="comma-separated: analysis, rewrite, or paths to .j2 files")] = "analysis,rewrite",
    assign: Annotated[str, typer.Option("--assign", help="each: every prompt per review | random: one prompt per review")] = "each",
    imports: Annotated[Optional[list[Path]], typer.Option("--import", help="seed-format JSONL to import, e.g. the 500-line teacher file (repeatable)")] = None,
    filters: Annotated[Optional[Path], typer.Option("--filters", help="YAML of quality filters (the recipe's corpus.filters keys)")] = None,
    valid_fraction: Annotated[float, typer.Option("--valid-fraction", help="share held out (by hash) for the validation loss")] = 0.01,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="teacher token budget per response")] = 600,
    temperature: Annotated[float, typer.Option(help="teacher sampling temperature")] = 0.0,
    limit: Annotated[Optional[int], typer.Option(help="use only the first N reviews of each file")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="estimate requests, tokens and cost; send nothing")] = False,
    max_cost: Annotated[Optional[float], typer.Option("--max-cost", help="stop cleanly once this many USD are spent (re-run to resume)")] = None,
    teacher_name: Annotated[Optional[str], typer.Option("--teacher-name", help="names the <teacher>_response field, e.g. mixtral")] = None,
    price_in: Annotated[Optional[float], typer.Option("--price-in", help="dry run: USD per million prompt tokens")] = None,
    price_out: Annotated[Optional[float], typer.Option("--price-out", help="dry run: USD per million completion tokens")] = None,
    concurrency: Annotated[int, typer.Option(envvar="FSABENCH_CONCURRENCY", help="API teachers: requests in flight (env FSABENCH_CONCURRENCY)")] = 16,
    api_base: Annotated[Optional[str], typer.Option("--api-base", help="API teachers: endpoint URL")] = None,
    timeout: Annotated[float, typer.Option(help="API teachers: seconds per request attempt")] = 120.0,
    max_retries: Annotated[int, typer.Option("--max-retries", help="API teachers: retries after a 429/5xx/timeout/drop")] = 6,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="bypass the response cache")] = False,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", envvar="FSABENCH_CACHE_DIR", help="response cache folder (env FSABENCH_CACHE_DIR)")] = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Build a teacher corpus: ask a teacher to analyse and rewrite reviews, and/or import seed-format files; filter."""
    from fsabench.commands.distill import corpus_command

    price = (price_in or 0.0, price_out or 0.0) if price_in is not None or price_out is not None else None
    options = {"concurrency": concurrency, "api_base": api_base, "timeout": timeout, "max_retries": max_retries,
               "cache": not no_cache, "cache_dir": cache_dir}
    raise typer.Exit(corpus_command(teacher, reviews or [], fields, prompts, assign, out, imports or [], filters,
                                    valid_fraction, max_new_tokens, temperature, limit, dry_run, max_cost,
                                    teacher_name, options, price, quiet, json_out))


@distill_app.command("pretrain")
def distill_pretrain(
    student: Annotated[str, typer.Option("--student", help="seq2seq student, e.g. hf:google-t5/t5-base or hf:DIR")],
    corpus: Annotated[Path, typer.Option("--corpus", help="corpus folder (from `distill corpus`) or a JSONL file")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder; resumes from its newest checkpoint")],
    valid: Annotated[Optional[Path], typer.Option("--valid", help="held-out JSONL (default: the corpus folder's valid.jsonl, else a hash hold-out)")] = None,
    steps: Annotated[Optional[int], typer.Option(help="optimizer steps (default: 200000)")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="sequences per step (gradient accumulation) (default: 100)")] = None,
    micro_batch_size: Annotated[Optional[int], typer.Option("--micro-batch-size", help="sequences per forward pass (default: 20)")] = None,
    lr: Annotated[Optional[float], typer.Option(help="peak learning rate (AdamWScale) (default: 3e-3)")] = None,
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
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads")] = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Pretrain a student on teacher responses (review -> response), the paper's recipe; output loads as hf:OUT."""
    from fsabench.commands.distill import pretrain_command

    settings = {"steps": steps, "batch_size": batch_size, "micro_batch_size": micro_batch_size, "lr": lr,
                "final_lr": final_lr, "warmup_steps": warmup_steps, "max_input_tokens": max_input_tokens,
                "max_target_tokens": max_target_tokens, "save_every": save_every, "eval_every": eval_every,
                "keep_checkpoints": keep_checkpoints, "seed": seed, "device": device, "dtype": dtype, "threads": threads}
    raise typer.Exit(pretrain_command(student, corpus, out, valid, settings, quiet, json_out))


@distill_app.command("finetune")
def distill_finetune(
    model: Annotated[str, typer.Option("--model", "-m", help="the student, e.g. hf:runs/student")],
    tasks: Annotated[str, typer.Option("--tasks", "-t", help="comma-separated task or group names")] = "fsa",
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
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads per job")] = None,
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
                                      data_dir, tasks_dir, quiet, json_out))


@distill_app.command("recipe")
def distill_recipe(
    recipe: Annotated[str, typer.Argument(help="recipe YAML, or a shipped one: tiny.yaml, paper.yaml")],
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="override a setting, e.g. --set pretrain.steps=20 (repeatable)")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="output folder (default: the recipe's out, else runs/NAME)")] = None,
    ablation: Annotated[Optional[str], typer.Option("--ablation", help="no-pretrain: fine-tune the same student without distillation pretraining")] = None,
    executor: Annotated[Optional[str], typer.Option("--executor", help="local | ray (default: the recipe's)")] = None,
    workers: Annotated[Optional[int], typer.Option(help="local executor: jobs at once")] = None,
    keep: Annotated[Optional[bool], typer.Option("--keep/--no-keep", help="keep fine-tuning checkpoints after testing")] = None,
    data_dir: DataDir = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Run a recipe: corpus, student, pretraining, fine-tuning and evaluation, skipping finished stages."""
    from fsabench.commands.distill import recipe_command

    raise typer.Exit(recipe_command(recipe, overrides or [], out, ablation, executor, workers, keep, data_dir,
                                    quiet, json_out))


def main() -> None:
    """Console entry point: one-line errors with exit code 1, internal errors with exit code 2."""
    try:
        code = app(standalone_mode=False)  # click returns (not raises) typer.Exit's code in this mode
    except FsabenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive here too
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(1 if exc.exit_code == 2 else exc.exit_code)
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (please report it)", err=True)
        sys.exit(2)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
