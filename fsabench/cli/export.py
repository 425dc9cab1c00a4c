"""`fsabench export lm-eval`: ExportOptions -> `fsabench.api.export_lm_eval`, then how to run lm_eval."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from fsabench.cli.common import DataDir, JsonOut, NumShots, Quiet, Scoring, Seed, Tasks, TasksDir, group, output_option

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
    quiet: Quiet = False,
) -> None:
    """Write lm-eval task YAMLs + helper so `lm_eval --include_path OUT_DIR` runs the same benchmark."""
    from fsabench import api
    from fsabench.console import emit_json, out
    from fsabench.errors import FsabenchError
    from fsabench.export.lmeval import lmeval_name
    from fsabench.options import ExportOptions

    if (out_dir is None) == (output is None):
        raise FsabenchError("export lm-eval needs one output folder", hint="pass OUT_DIR or --output/-o (not both)")
    folder = out_dir or output
    done = api.export_lm_eval(ExportOptions(output=folder, tasks=tasks, prompt_style=prompt_style,
                                            num_shots=num_shots, seed=seed, scoring=scoring, seq2seq=seq2seq,
                                            data_dir=data_dir, tasks_dir=tuple(tasks_dir or ())))
    if json_out:
        emit_json({"out_dir": str(folder), "tasks": done["tasks"]})
        return
    out.print(f"wrote {len(done['names'])} task(s) to {folder}/; run them with:")
    first = ",".join(lmeval_name(n) for n in (done["groups"] or done["names"]))
    out.print(f"  lm_eval --model hf --model_args pretrained=PATH,backend=seq2seq --include_path {folder} "
              f"--tasks {first}", soft_wrap=True)


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
    quiet: Quiet = False,
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
