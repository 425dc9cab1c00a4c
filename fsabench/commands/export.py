"""`fsabench export lm-eval OUT_DIR`: write lm-eval task YAMLs and the helper module."""

from __future__ import annotations

from pathlib import Path

from fsabench.evaluation import parse_names
from fsabench.console import emit_json, out
from fsabench.errors import FsabenchError
from fsabench.settings import data_dir as resolve_data_dir
from fsabench.tasks.registry import build_registry


def export_lmeval_command(out_dir: Path, tasks: str, prompt_style: str, num_shots: int, seed: int, scoring: str,
                          seq2seq: bool, data_dir: Path | None, tasks_dir: list[str] | None, json_out: bool) -> None:
    from fsabench.export.lmeval import export_lmeval, lmeval_name

    if prompt_style not in ("raw", "chat"):
        raise FsabenchError(f"--prompt-style {prompt_style!r} is not known", hint="use raw (fine-tuned students) or chat")
    if scoring not in ("generate", "likelihood"):
        raise FsabenchError(f"--scoring {scoring!r} is not known", hint="use generate or likelihood")
    registry = build_registry(tasks_dir)
    requested = parse_names(tasks)
    names = registry.expand(requested)
    specs = [registry.spec(name) for name in names]
    groups = {name: registry.expand([name]) for name in requested if name in registry.groups}
    exported = export_lmeval(out_dir, specs, groups, resolve_data_dir(data_dir), prompt_style, num_shots, seed, scoring,
                             seq2seq)
    if json_out:
        emit_json({"out_dir": str(out_dir), "tasks": exported})
        return
    out.print(f"wrote {len(specs)} task(s) to {out_dir}/; run them with:")
    first = ",".join(lmeval_name(n) for n in (list(groups) or names))
    out.print(f"  lm_eval --model hf --model_args pretrained=PATH,backend=seq2seq --include_path {out_dir} "
              f"--tasks {first}", soft_wrap=True)
