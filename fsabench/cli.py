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
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
) -> None:
    """Write lm-eval task YAMLs + helper so `lm_eval --include_path OUT_DIR` runs the same benchmark."""
    from fsabench.commands.export import export_lmeval_command

    export_lmeval_command(out_dir, tasks, prompt_style, num_shots, seed, scoring, data_dir, tasks_dir, json_out)


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


def main() -> None:
    """Console entry point: one-line errors with exit code 1, internal errors with exit code 2."""
    try:
        app(standalone_mode=False)
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


if __name__ == "__main__":
    main()
