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
    corpus = _corpus(recipe, recipe_dir, data_dir)
    return {"recipe": recipe.name, "file": str(recipe_path.resolve()), "out": str(Path(out).resolve()),
            "data_dir": str(data_dir), "ablation": ablation, "processes": world,
            "stages": {"corpus": corpus,
                       "student": {**recipe.student.model_dump(mode="json"),
                                   "folder": str(Path(out).resolve() / "student-init")},
                       "pretrain": _pretrain(recipe, world, ablation, out, corpus["responses"]),
                       "finetune": _finetune(recipe, executor, workers, keep, shared_dir)}}


def _corpus(recipe: Recipe, recipe_dir: Path, data_dir: Path) -> dict[str, Any]:
    stage = recipe.corpus
    settings = stage.model_dump(mode="json", by_alias=True)
    settings["import"] = [str(resolve_path(p, recipe_dir, data_dir)) for p in stage.imports]
    for source, resolved in zip(settings["reviews"], stage.reviews):
        source["path"] = str(resolve_path(resolved.path, recipe_dir, data_dir).resolve())
    per_review = len(stage.prompts) if stage.assign in ("both", "each") else 1
    settings["requests_per_review"] = per_review
    settings["filters_applied"] = stage.filters.enabled
    counts = [source.sample or source.limit for source in stage.reviews]
    reviews = sum(counts) if all(counts) else None  # a source without sample/limit: all of its rows (unknown)
    settings["reviews"] = [{**s, "reviews": n} for s, n in zip(settings["reviews"], counts)]
    settings["reviews_total"] = reviews
    settings["requests"] = None if reviews is None else reviews * per_review
    imported = _count_rows([resolve_path(p, recipe_dir, data_dir) for p in stage.imports])
    settings["imported_rows"] = imported
    known = None if settings["requests"] is None or imported is None else settings["requests"] + imported
    # responses the corpus holds (before filters; `size` keeps at most that many after them)
    settings["responses"] = known if stage.size is None or known is None else min(stage.size, known)
    if stage.size is not None and known is None:
        settings["responses"] = stage.size
    settings["teacher_estimate"] = _teacher_estimate(stage, settings["requests"]) if stage.teacher else None
    return settings


def _count_rows(paths: list[Path]) -> int | None:
    """Non-blank lines of the files to import (None when one is missing)."""
    total = 0
    for path in paths:
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def _teacher_estimate(stage, requests: int | None) -> dict[str, Any] | None:
    """Tokens (and USD, when a price is known) of asking the teacher, from typical lengths measured on
    the 500 released Mixtral answers (reviews ~83 tokens, answers ~220), without reading the review
    files; `distill corpus --dry-run` counts the real prompts."""
    from fsabench.distill.teacher import (TYPICAL_RESPONSE_TOKENS, TYPICAL_REVIEW_TOKENS, litellm_prices,
                                          load_prompts, render)

    if requests is None:
        return None
    prompts = load_prompts(stage.prompts)
    template = sum(len(render(p, {"Text": "", "Overall": None})) // 4 for p in prompts) / len(prompts)
    prompt_tokens = int(requests * (template + TYPICAL_REVIEW_TOKENS))
    typical, worst = requests * TYPICAL_RESPONSE_TOKENS, requests * stage.max_new_tokens
    prices = stage.price_per_million or litellm_prices(stage.teacher)
    cost = None if prices is None else {
        "typical_usd": round((prompt_tokens * prices[0] + typical * prices[1]) / 1e6, 2),
        "max_usd": round((prompt_tokens * prices[0] + worst * prices[1]) / 1e6, 2),
        "usd_per_million_tokens": {"prompt": prices[0], "completion": prices[1]}}
    return {"requests": requests, "prompt_tokens": prompt_tokens, "completion_tokens_typical": typical,
            "completion_tokens_max": worst, "cost": cost,
            "cost_note": None if cost else "no price known for this teacher: set corpus.price_per_million "
                                           "[prompt, completion] USD, or count GPU hours from the token totals"}


def _pretrain(recipe: Recipe, world: int, ablation: str | None, out: Path, responses: int | None) -> dict[str, Any]:
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
        "sequences_seen": cfg.steps * cfg.batch_size,
        # steps x sequences per step / training responses (the corpus less its validation share)
        "passes": None if not responses else
        round(cfg.steps * cfg.batch_size / (responses * (1 - recipe.corpus.valid_fraction)), 2),
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
