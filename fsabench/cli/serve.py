"""`fsabench serve` (a local model behind an OpenAI-compatible API) and `fsabench export lm-eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from fsabench.cli.common import (BatchSize, DataDir, Device, Dtype, GgufFile, JsonOut, NumShots, Scoring, Seed, Tasks,
                                 TasksDir, Threads, app, group, output_option)


@app.command()
def serve(
    model: Annotated[str, typer.Option("--model", "-m", help="the model to serve, e.g. hf:./runs/student")],
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port (0 = pick a free one)")] = 8000,
    name: Annotated[Optional[str], typer.Option("--name", help="model id clients send [default: the folder name]")] = None,
    batch_size: BatchSize = 16,
    batch_wait_ms: Annotated[float, typer.Option("--batch-wait-ms", help="how long to gather a batch")] = 5.0,
    device: Device = "auto",
    threads: Threads = None,
    dtype: Dtype = "auto",
    gguf_file: GgufFile = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="the most new tokens one request may ask for")] = 512,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no request log")] = False,
) -> None:
    """Serve a local model over an OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models, /docs)."""
    from fsabench.commands.serve import serve_command

    serve_command(model, host, port, name, batch_size, batch_wait_ms,
                  {"batch_size": batch_size, "device": device, "dtype": dtype, "gguf_file": gguf_file, "threads": threads},
                  max_tokens, quiet)


export_app = group("export", "Export tasks to other evaluation harnesses.")


@export_app.command("lm-eval")
def export_lm_eval(
    out_dir: Annotated[Optional[Path], typer.Argument(help="folder for the lm-eval task YAMLs (or --output)")] = None,
    output: Annotated[Optional[Path], output_option("folder for the lm-eval task YAMLs (pass it to --include_path)")] = None,
    tasks: Tasks = "fsa",
    prompt_style: Annotated[Literal["raw", "chat"], typer.Option("--prompt-style", help="raw (fine-tuned students) | chat (instruction LLMs)")] = "raw",
    num_shots: NumShots = 0,
    seed: Seed = 0,
    scoring: Scoring = "generate",
    seq2seq: Annotated[bool, typer.Option("--seq2seq", help="for seq2seq models: cap lm-eval's decoder at the task's token budget")] = False,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
) -> None:
    """Write lm-eval task YAMLs + helper so `lm_eval --include_path OUT_DIR` runs the same benchmark."""
    from fsabench.commands.export import export_lmeval_command
    from fsabench.errors import FsabenchError

    if (out_dir is None) == (output is None):
        raise FsabenchError("export lm-eval needs one output folder", hint="pass OUT_DIR or --output/-o (not both)")
    export_lmeval_command(out_dir or output, tasks, prompt_style, num_shots, seed, scoring, seq2seq, data_dir, tasks_dir,
                          json_out)


@export_app.command("hub")
def export_hub(
    results: Annotated[list[Path], typer.Argument(help="RunResult files or folders of one model")],
    output: Annotated[Path, output_option("folder for README.md (model-index front matter) and .eval_results/")],
    name: Annotated[Optional[str], typer.Option("--name", help="model-index name [default: the model string]")] = None,
    leaderboard: Annotated[Optional[str], typer.Option("--leaderboard", help="mark tasks a passing audit of this "
                                                       "board backs as verified")] = None,
    leaderboards_dir: Annotated[Optional[Path], typer.Option("--leaderboards-dir", envvar="FSABENCH_LEADERBOARDS_DIR",
                                                             help="folder of leaderboards [default: ./leaderboards]")] = None,
    hub_dataset: Annotated[Optional[str], typer.Option("--hub-dataset", help="ORG/NAME of a Hub Benchmark dataset: "
                                                       "also write .eval_results/<task>.yaml")] = None,
    json_out: JsonOut = False,
) -> None:
    """A model's results as Hugging Face model-card metadata (model-index), audited board entries verified."""
    from fsabench.api import export_hub as run_export
    from fsabench.console import emit_json, out

    export = run_export(results, output, name=name, leaderboard=leaderboard, leaderboards_dir=leaderboards_dir,
                        hub_dataset=hub_dataset)
    if json_out:
        emit_json({"model": export.model, "verified": export.verified, "files": [str(p) for p in export.files]})
        return
    out.print(f"wrote {', '.join(str(p) for p in export.files)}; verified by audit: {', '.join(export.verified) or 'none'}")
