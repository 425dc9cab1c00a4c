"""What every command shares: the app, option declarations (declared once, same name everywhere), JSON output.

A command module declares its options with these aliases, builds one typed options object, calls the
library and prints. Nothing here does work of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

app = typer.Typer(no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["--help", "-h"]},
                  help="Fine-grained sentiment analysis as a benchmark anyone can run, extend and publish.")


def _print_version(value: bool) -> None:
    if value:
        from fsabench import __version__

        typer.echo(f"fsabench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="print the installed version and exit")] = False) -> None:
    """Fine-grained sentiment analysis as a benchmark anyone can run, extend and publish."""
    console = sys.modules.get("fsabench.console")
    if console is not None:  # an earlier in-process call's --quiet must not silence this one
        console.out.quiet = False


def group(name: str, help: str) -> typer.Typer:
    """A sub-command group (`fsabench NAME VERB`) registered on the main app."""
    sub = typer.Typer(help=help, no_args_is_help=True, context_settings={"help_option_names": ["--help", "-h"]})
    app.add_typer(sub, name=name)
    return sub


def output_option(help: str) -> typer.models.OptionInfo:
    """`--output/-o` for every command that writes (`--out` is kept as a hidden alias, see cli.main)."""
    return typer.Option("--output", "-o", help=help)


Port = Annotated[int, typer.Option(min=0, max=65535, help="port (0 = pick a free one)")]

# --- shared settings -----------------------------------------------------------------------------
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", envvar="FSABENCH_DATA_DIR",
                                                 help="data directory [env FSABENCH_DATA_DIR]")]
TasksDir = Annotated[Optional[list[str]], typer.Option("--tasks-dir", help="extra task YAML folder (repeatable; "
                                                       "also FSABENCH_TASKS_PATH)")]
JsonOut = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]


def quiet_console(quiet: bool) -> bool:
    """`--quiet` in every command: progress, tables and summaries off (errors, warnings and `--json` stay).

    Run as the option's callback on every invocation, so it also resets an earlier in-process call."""
    from fsabench.console import out

    out.quiet = bool(quiet)
    return quiet


Quiet = Annotated[bool, typer.Option("--quiet", "-q", callback=quiet_console,
                                     help="no progress, tables or summaries (errors and --json still print)")]
Tasks = Annotated[str, typer.Option("--tasks", "-t", help="comma-separated task or group names")]
Seed = Annotated[int, typer.Option(help="seed recorded in results and used to draw few-shot examples")]
NumShots = Annotated[int, typer.Option("--num-shots", min=0, help="demonstrations per prompt (chat models)")]
Limit = Annotated[Optional[int], typer.Option(min=1, help="score only the first N test examples")]
Scoring = Annotated[Literal["generate", "likelihood"], typer.Option(help="generate | likelihood (classification with local models)")]
PromptStyle = Annotated[Optional[Literal["raw", "chat"]], typer.Option("--prompt-style", help="raw | chat [default: the model's own]")]

# --- model settings (run, serve, distill corpus, leaderboard audit, human judge) ---------------
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="local models: sequences per forward pass")]
Device = Annotated[Literal["auto", "cpu", "cuda", "mps"], typer.Option(help="local models: auto|cpu|cuda|mps")]
Dtype = Annotated[Literal["auto", "float32", "bfloat16", "float16"], typer.Option(help="local models: auto|float32|bfloat16|float16")]
Threads = Annotated[Optional[int], typer.Option("--threads", min=1, envvar="FSABENCH_THREADS",
                                                help="torch CPU threads [env FSABENCH_THREADS; default: physical "
                                                     "cores this process may use]")]
MaxNewTokens = Annotated[Optional[int], typer.Option("--max-new-tokens", min=1, help="override the task's token budget")]
Concurrency = Annotated[int, typer.Option(envvar="FSABENCH_CONCURRENCY", min=1,
                                          help="API models: requests in flight [env FSABENCH_CONCURRENCY]")]
ApiBase = Annotated[Optional[str], typer.Option("--api-base", help="API models: endpoint URL, e.g. http://127.0.0.1:8000/v1")]
Timeout = Annotated[float, typer.Option(min=0.001, help="API models: seconds per request attempt")]
MaxRetries = Annotated[int, typer.Option("--max-retries", min=0, help="API models: retries after a 429/5xx/timeout/drop")]
MaxCost = Annotated[Optional[float], typer.Option("--max-cost", min=0.0, help="stop cleanly once this many USD are spent (re-run to resume)")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="bypass the response cache")]
CacheDir = Annotated[Optional[Path], typer.Option("--cache-dir", envvar="FSABENCH_CACHE_DIR",
                                                  help="response cache folder [env FSABENCH_CACHE_DIR]")]
GgufFile = Annotated[Optional[str], typer.Option("--gguf-file", help="hf: a GGUF file inside the model folder")]
EngineBin = Annotated[Optional[str], typer.Option("--engine-bin", help="vllm:/sglang: the engine's Python or venv "
                                                  "[env FSABENCH_VLLM_BIN / FSABENCH_SGLANG_BIN]")]
EngineArgs = Annotated[Optional[str], typer.Option("--engine-args", help='vllm:/sglang: extra server arguments, '
                                                   'e.g. "--max-model-len 4096 --tensor-parallel-size 2"')]
Launch = Annotated[Optional[str], typer.Option("--launch", help='openai-compat: start this server command first '
                                               '(on a free port written {port}) and stop it after')]
