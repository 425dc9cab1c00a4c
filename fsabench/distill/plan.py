"""`fsabench distill recipe R.yaml --plan`: every stage's fully resolved settings, nothing run.

What a recipe file leaves implicit is spelled out: the defaults it inherits, the paths as they will
be read, the teacher requests per review, the micro-batch and accumulation the pretraining uses for
this number of processes (split_batch), the learning rate the schedule gives at its start, middle and
end, the expanded task list and the number of fine-tuning jobs, the precision on this machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fsabench.distill.recipe import Recipe, resolve_path


def plan_recipe(recipe: Recipe, recipe_path: Path, out: Path, data_dir: Path, ablation: str | None = None,
                executor: str | None = None, workers: int | None = None, keep: bool | None = None,
                shared_dir: Path | None = None) -> dict[str, Any]:
    recipe_dir = recipe_path.resolve().parent
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return {"recipe": recipe.name, "file": str(recipe_path.resolve()), "out": str(Path(out).resolve()),
            "data_dir": str(data_dir), "ablation": ablation, "processes": world,
            "stages": {"corpus": _corpus(recipe, recipe_dir, data_dir),
                       "student": {**recipe.student.model_dump(mode="json"),
                                   "folder": str(Path(out).resolve() / "student-init")},
                       "pretrain": _pretrain(recipe, world, ablation, out),
                       "finetune": _finetune(recipe, executor, workers, keep, shared_dir)}}


def _corpus(recipe: Recipe, recipe_dir: Path, data_dir: Path) -> dict[str, Any]:
    stage = recipe.corpus
    settings = stage.model_dump(mode="json", by_alias=True)
    settings["import"] = [str(resolve_path(p, recipe_dir, data_dir)) for p in stage.imports]
    for source, resolved in zip(settings["reviews"], stage.reviews):
        source["path"] = str(resolve_path(resolved.path, recipe_dir, data_dir).resolve())
    settings["requests_per_review"] = len(stage.prompts) if stage.assign in ("both", "each") else 1
    settings["filters_applied"] = stage.filters.enabled
    return settings


def _pretrain(recipe: Recipe, world: int, ablation: str | None, out: Path) -> dict[str, Any]:
    from fsabench.distill.pretrain import split_batch
    from fsabench.distill.schedule import cosine_lr

    cfg = recipe.pretrain
    settings: dict[str, Any] = cfg.model_dump(mode="json")
    settings["skipped"] = ablation == "no-pretrain"
    settings["folder"] = str(Path(out).resolve() / "student")
    micro, accum = split_batch(cfg.batch_size, cfg.micro_batch_size, world)
    settings["resolved"] = {
        "processes": world, "micro_batch_size": micro, "accumulation": accum,
        "sequences_per_step": world * micro * accum,
        "lr": {f"step {s}": cosine_lr(s, cfg.steps, cfg.lr, cfg.final_lr, cfg.warmup_steps)
               for s in (0, cfg.steps // 2, cfg.steps)},
        "loss_weighting": "mean of micro-batch token means" if cfg.batching == "random" else "every token alike",
        **_precision(cfg.device, cfg.dtype)}
    return settings


def _finetune(recipe: Recipe, executor: str | None, workers: int | None, keep: bool | None,
              shared_dir: Path | None) -> dict[str, Any]:
    from fsabench.tasks.registry import build_registry

    stage = recipe.finetune
    settings: dict[str, Any] = stage.model_dump(mode="json")
    tasks = build_registry().expand(list(stage.tasks))
    settings.update({"executor": executor or stage.executor, "workers": workers or stage.workers,
                     "keep": stage.keep if keep is None else keep,
                     "shared_dir": str(shared_dir) if shared_dir else stage.shared_dir})
    settings["resolved"] = {"tasks": tasks, "jobs": len(tasks) * len(stage.seeds),
                            "optimizer": f"AdamW(lr={stage.lr}, eps={stage.adam_eps}, weight_decay={stage.weight_decay}"
                                         f" on {'every parameter' if stage.decay_all else 'all but norms and biases'})",
                            "decoding": "greedy; dev and test by the same hf adapter code, same precision",
                            **_precision(stage.device, stage.dtype)}
    return settings


def _precision(device: str, dtype: str) -> dict[str, Any]:
    """What `device`/`dtype` mean (said, not probed: the plan loads no torch). Weights stay float32;
    training and decoding run under this autocast."""
    meaning = {"auto": "bf16 autocast on a GPU that supports it (the seed's bf16-mixed), float32 on CPU",
               "float32": "float32", "bfloat16": "bf16 autocast", "float16": "fp16 autocast"}[dtype]
    return {"device": device, "precision": meaning}
