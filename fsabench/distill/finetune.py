"""Multi-seed fine-tuning with best-dev-epoch selection, evaluated through the benchmark runner.

The paper's protocol (DESIGN section 3): for each task and seed, fine-tune the student on the
train split (sentence -> target string) with AdamW lr 3e-4, weight decay 0.01, linear decay,
batch 16, 20 epochs, grad clip 1.0; after each epoch score the dev split with the runner's own
scoring; keep the best-dev epoch, evaluate it on the test split through `run_task` exactly as
`fsabench run --model hf:DIR` would, and write one RunResult per seed (protocol `fine-tuned`).
The best checkpoint is deleted after testing unless `keep`.

Dev is decoded by the same code as test (fsabench.models.hf.HFAdapter, over the model in memory),
under the same precision. One job = one (task, seed); jobs are plain data, so an executor can run them in other processes
or on a Ray cluster (fsabench.distill.executors).
"""

from __future__ import annotations

import logging
import math
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


PAPER_SEEDS = (42, 52, 62, 72, 82, 142, 152, 162, 172, 182)


class FinetuneConfig(BaseModel):
    """Fine-tuning settings; the defaults are the paper's. Numbers are finite and bounded (`--lr inf` trained
    to NaN and exited 0), and a bad value is one FsabenchError naming it, from the CLI, `--set`, a recipe,
    `--plan` or Python alike."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def __init__(self, **data: Any) -> None:
        from pydantic import ValidationError

        try:
            super().__init__(**data)
        except ValidationError as exc:
            from fsabench.errors import from_validation

            raise from_validation("fine-tuning settings", exc, "see `fsabench distill finetune --help`") from None

    epochs: int = Field(20, ge=1, le=100_000)
    batch_size: int = Field(16, ge=1, le=1_000_000)
    lr: float = Field(3e-4, gt=0, le=10)
    weight_decay: float = Field(0.01, ge=0, le=10)
    adam_eps: float = Field(1e-6, gt=0, le=1, description="AdamW epsilon (the seed's adam_epsilon; torch's default is 1e-8)")
    decay_all: bool = Field(True, description="weight decay on every parameter, as the seed's AdamW(model.parameters()); "
                                              "false exempts layer norms and biases (nanoT5's pretraining groups)")
    warmup_steps: int = Field(0, ge=0)
    grad_clip: float = Field(1.0, gt=0, le=1e6)
    max_input_tokens: int = Field(128, ge=1)
    max_target_tokens: int = Field(128, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    train_limit: int | None = Field(None, description="train on the first N train examples only")
    dev_limit: int | None = Field(None, description="select the epoch on the first N dev examples only")
    test_limit: int | None = Field(None, description="test on the first N test examples only")
    device: str = "auto"
    dtype: str = Field("auto", pattern="^(auto|float32|bfloat16|float16)$")
    threads: int | None = Field(None, ge=1, description="torch CPU threads per job (default: FSABENCH_THREADS, else physical cores)")


@dataclass(frozen=True)
class FinetuneJob:
    """One (task, seed) run; plain picklable data."""

    model: str  # the student, e.g. hf:runs/tiny/student
    label: str  # the model name written in RunResults (usually the same)
    task: str
    seed: int
    output: Path  # RunResult folder
    work: Path  # checkpoint folder
    data_dir: Path
    config: FinetuneConfig
    tasks_dir: tuple[str, ...] = ()
    keep: bool = False


@dataclass
class JobOutcome:
    task: str
    seed: int
    result: str | None = None  # RunResult path
    scores: dict[str, float | None] = field(default_factory=dict)  # subset -> main metric
    best_epoch: int | None = None
    dev: list[float] = field(default_factory=list)
    seconds: float = 0.0
    skipped: bool = False
    error: str | None = None


def main_score(score) -> float | None:
    """F1 (accuracy for classification); None for an empty subset (n = 0 scores a vacuous 100)."""
    if score.n == 0:
        return None
    return score.f1 if score.f1 is not None else score.accuracy


def run_job(job: FinetuneJob) -> JobOutcome:
    """Fine-tune, select the best dev epoch, test it, write the RunResult. Errors come back as text
    (exceptions do not always survive a trip between processes)."""
    from fsabench.errors import FsabenchError

    try:
        return _run_job(job)
    except FsabenchError as exc:
        return JobOutcome(job.task, job.seed, error=str(exc))


def _run_job(job: FinetuneJob) -> JobOutcome:
    from fsabench.results import load_result, result_path, save_result
    from fsabench.tasks.registry import build_registry

    clock = time.perf_counter()
    spec = build_registry(list(job.tasks_dir) or None).spec(job.task)
    path = result_path(job.output, job.label, spec.name, job.seed)
    if path.is_file():
        previous = load_result(path)
        if previous.complete and previous.task.sha256 == spec.definition_hash():
            check_same_settings(previous.meta.get("finetune", {}).get("config", {}), job.config, path)
            return _outcome(job, previous, str(path), skipped=True)
    best_dir = job.work / _slug(job.label) / spec.name / f"seed{job.seed}" / "best"
    history = train_and_select(job, spec, best_dir)
    result = evaluate_best(job, spec, best_dir, history)
    save_result(result, path)
    if not job.keep:
        shutil.rmtree(best_dir.parent, ignore_errors=True)
    outcome = _outcome(job, result, str(path))
    outcome.seconds = round(time.perf_counter() - clock, 2)
    return outcome


RUNTIME = {"threads", "device"}  # change speed, not results


def check_same_settings(before: dict[str, Any], config: FinetuneConfig, path: Path) -> None:
    """A result made with other fine-tuning settings is not this run's result: refuse to reuse it."""
    now = config.model_dump(mode="json")
    changed = sorted(k for k in set(before) | set(now) if k not in RUNTIME and before.get(k) != now.get(k))
    if changed:
        from fsabench.errors import FsabenchError

        raise FsabenchError(f"{path} was fine-tuned with other settings (changed: {', '.join(changed)})",
                            hint="delete it to redo that seed, or write to another --output")


def _slug(text: str) -> str:
    from fsabench.results import slug

    return slug(text)


def _outcome(job: FinetuneJob, result, path: str, skipped: bool = False) -> JobOutcome:
    meta = result.meta.get("finetune", {})
    return JobOutcome(job.task, job.seed, path, {k: main_score(v) for k, v in result.scores.items()},
                      meta.get("best_epoch"), meta.get("dev", []), result.timing.seconds, skipped)


def train_and_select(job: FinetuneJob, spec, best_dir: Path) -> dict[str, Any]:
    """Train for all epochs; after each, score dev; save the model whenever dev improves."""
    import torch

    from fsabench.distill.optim import linear_lr, set_lr
    from fsabench.distill.student import load_student, pick_precision
    from fsabench.examples import load_split
    from fsabench.models.hf import HFAdapter

    cfg = job.config
    from fsabench.threads import use_threads

    use_threads(cfg.threads)  # explicit, else FSABENCH_THREADS, else physical cores (never oversubscribed)
    random.seed(job.seed)
    torch.manual_seed(job.seed)
    device, autocast_dtype = pick_precision(cfg.device, cfg.dtype)
    model, tokenizer = load_student(job.model)
    model.to(device).train()
    train = load_split(spec, job.data_dir, "train").examples[:cfg.train_limit]
    sources = tokenizer([e.input for e in train], truncation=True, max_length=cfg.max_input_tokens)["input_ids"]
    targets = tokenizer([e.target for e in train], truncation=True, max_length=cfg.max_target_tokens)["input_ids"]
    optimizer = finetune_optimizer(model, cfg)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total, step, dev, best = steps_per_epoch * cfg.epochs, 0, [], -1.0
    generator = torch.Generator().manual_seed(job.seed)
    adapter = HFAdapter.from_loaded(job.label, model, tokenizer, device, cfg.eval_batch_size, _name(autocast_dtype))
    dev_spec = dev_as_test(spec)
    for epoch in range(1, cfg.epochs + 1):
        order = torch.randperm(len(train), generator=generator).tolist()
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            set_lr(optimizer, linear_lr(step, total, cfg.lr, cfg.warmup_steps))
            loss = _loss(model, [sources[i] for i in idx], [targets[i] for i in idx], tokenizer.pad_token_id,
                         device, autocast_dtype)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
        dev.append(dev_score(dev_spec, adapter, job))
        if dev[-1] > best:  # ties keep the earlier epoch
            best = dev[-1]
            model.save_pretrained(best_dir)
            tokenizer.save_pretrained(best_dir)
        logging.getLogger("fsabench").info(f"{job.task} seed {job.seed}: epoch {epoch}/{cfg.epochs}, dev "
                                           f"{dev[-1]:.2f} (best {best:.2f})")
    return {"dev": dev, "best_epoch": dev.index(max(dev)) + 1, "steps": total, "train_examples": len(train)}


def finetune_optimizer(model, cfg: FinetuneConfig):
    """AdamW as the seed builds it (evaluation/atsa.py): every parameter decays, eps 1e-6."""
    import torch

    from fsabench.distill.optim import param_groups

    params = model.parameters() if cfg.decay_all else param_groups(model, cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, eps=cfg.adam_eps, weight_decay=cfg.weight_decay)


def _name(dtype) -> str | None:
    return None if dtype is None else str(dtype).replace("torch.", "")


def _loss(model, sources, targets, pad_id: int, device: str, autocast_dtype):
    from fsabench.distill.data import collate
    from fsabench.distill.student import seq2seq_loss

    return seq2seq_loss(model, collate(sources, targets, pad_id), device, autocast_dtype)


def dev_as_test(spec):
    """The same task with its dev split in the test slot, so the runner scores dev exactly as test."""
    splits = {**spec.data.splits, "test": spec.data.splits["dev"]}
    return spec.model_copy(update={"data": spec.data.model_copy(update={"splits": splits})})


def dev_score(dev_spec, adapter, job: FinetuneJob) -> float:
    from fsabench.runner import RunOptions, run_task

    result = run_task(dev_spec, adapter, job.data_dir, RunOptions(limit=job.config.dev_limit, seed=job.seed,
                                                                 protocol="fine-tuned"))
    return main_score(result.scores["all"]) or 0.0


def evaluate_best(job: FinetuneJob, spec, best_dir: Path, history: dict[str, Any]):
    """Test the best-dev checkpoint through the runner with the hf adapter, as `fsabench run` would,
    decoded as dev was: float32 weights under the training precision's autocast (bf16 on GPUs that
    support it, as the seed's `bf16-mixed` test runs; plain float32 on CPU)."""
    from fsabench.distill.student import pick_precision
    from fsabench.models.hf import HFAdapter
    from fsabench.runner import RunOptions, run_task

    cfg = job.config
    device, autocast_dtype = pick_precision(cfg.device, cfg.dtype)
    adapter = HFAdapter(name=job.label, target=str(best_dir), batch_size=cfg.eval_batch_size, device=device,
                        dtype="float32", autocast=_name(autocast_dtype))
    result = run_task(spec, adapter, job.data_dir, RunOptions(limit=cfg.test_limit, seed=job.seed,
                                                             protocol="fine-tuned"))
    result.meta["finetune"] = {**history, "student": job.model, "config": cfg.model_dump(mode="json")}
    return result


def aggregate(outcomes: Sequence[JobOutcome], label: str) -> dict[str, Any]:
    """Mean and sample standard deviation over seeds of every subset's main score, per task
    (fsabench.metrics.seed_mean_std: one seed has no std, shown as `–`)."""
    from fsabench.metrics import seed_mean_std

    tasks: dict[str, Any] = {}
    for task in dict.fromkeys(o.task for o in outcomes):
        done = sorted((o for o in outcomes if o.task == task and o.error is None), key=lambda o: o.seed)
        subsets: dict[str, Any] = {}
        for subset in (done[0].scores if done else {}):
            values = [o.scores[subset] for o in done if o.scores.get(subset) is not None]
            stats = seed_mean_std(values)
            subsets[subset] = {"mean": stats.mean, "std": stats.std, "values": values}
        tasks[task] = {"seeds": [o.seed for o in done], "subsets": subsets,
                       "best_epochs": [o.best_epoch for o in done], "results": [o.result for o in done],
                       "failed_seeds": [o.seed for o in outcomes if o.task == task and o.error is not None]}
    return {"model": label, "protocol": "fine-tuned", "metric": "f1 (accuracy for classification)",
            "std": "sample standard deviation over seeds (ddof=1); null for one seed", "tasks": tasks}
