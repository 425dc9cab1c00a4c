"""Distillation pretraining: review -> teacher response, the paper's recipe (DESIGN section 3).

Reads like nanoT5's loop: get the student, the optimizer and the data, maybe resume, then step:
accumulate micro-batches to `batch_size` sequences, clip, step AdamWScale on the cosine schedule,
maybe evaluate, maybe checkpoint. The output folder loads with `hf:DIR`.

Multi-GPU: under `accelerate launch` (WORLD_SIZE > 1) the same loop runs through an accelerate
Accelerator, each process taking every world-th micro-batch; micro-batch and accumulation are derived
so that every optimizer step sees exactly `batch_size` sequences (split_batch). A 2-process CPU run
(gloo) is tested; GPUs are not (none on the development machines).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fsabench.distill import checkpoint
from fsabench.distill.checkpoint import TrainState
from fsabench.distill.corpus import CORPUS, VALID
from fsabench.errors import DataError, FsabenchError
from fsabench.io import read_json_object, write_json_atomic

SUMMARY = "pretrain.json"
LOG = "train_log.jsonl"


class PretrainConfig(BaseModel):
    """Pretraining settings; the defaults are the paper's (t5-base student)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # `--lr inf` trains to NaN

    steps: int = Field(200_000, ge=1, description="optimizer steps")
    batch_size: int = Field(100, ge=1, description="sequences per optimizer step, over all processes")
    micro_batch_size: int = Field(20, ge=1, description="sequences per forward pass (at most; see split_batch)")
    # The seed asks for 3e-3 but chains LinearLR(start_factor=0.5, total_iters=0) into the cosine with
    # SequentialLR(milestones=[0]); under its pinned torch 2.1.1 that starts from the halved rate
    # (pytorch/pytorch#185872, fixed in torch 2.13), so the run the paper reports used 1.5e-3 -> 1e-5.
    lr: float = Field(1.5e-3, gt=0, description="where the cosine starts (the seed's effective rate)")
    final_lr: float = Field(1e-5, ge=0, description="the cosine schedule ends here")
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    max_input_tokens: int = Field(128, ge=1)
    max_target_tokens: int = Field(400, ge=1)
    save_every: int = Field(2000, ge=1, description="checkpoint every N steps (and at the end)")
    eval_every: int = Field(2000, ge=1, description="validation loss every N steps (and at the end)")
    keep_checkpoints: int = Field(2, ge=1)
    valid_fraction: float = Field(0.01, ge=0, lt=1, description="hold out this share of the corpus by hash "
                                                                   "when there is no validation file")
    valid_max_rows: int = Field(10_240, ge=1)
    buffer_rows: int = Field(4096, ge=1, description="rows read from disk at a time (and length-bucketed together)")
    shuffle: bool = Field(True, description="a new permutation of the whole corpus every epoch (the seed's)")
    batching: Literal["random", "bucket"] = Field("random", description="random micro-batches (the seed's), or "
                                                  "length-bucketed ones with a token-weighted loss (faster)")
    seed: int = 42
    device: str = "auto"
    dtype: str = Field("auto", pattern="^(auto|float32|bfloat16|float16)$")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: FSABENCH_THREADS, else physical cores)")
    log_every: int = Field(10, ge=1)


@dataclass(frozen=True)
class CorpusFiles:
    train: Path
    valid: Path | None  # a held-out file; None = hold out by hash from train
    valid_fraction: float | None


def corpus_files(corpus: Path, valid: Path | None, cfg: PretrainConfig) -> CorpusFiles:
    """A corpus folder means its corpus.jsonl and valid.jsonl; a file is held out from by hash."""
    corpus = Path(corpus)
    train = corpus / CORPUS if corpus.is_dir() else corpus
    if not train.is_file():
        raise DataError(f"{train}: corpus file not found", hint="run `fsabench distill corpus` first, or check --corpus")
    if valid is None and corpus.is_dir() and (corpus / VALID).is_file() and (corpus / VALID).stat().st_size:
        valid = corpus / VALID
    if valid is not None:
        return CorpusFiles(train, Path(valid), None)
    return CorpusFiles(train, None, cfg.valid_fraction)


def split_batch(batch_size: int, micro_batch_size: int, world: int) -> tuple[int, int]:
    """(sequences per forward pass, accumulation steps) such that world x micro x accum = batch_size
    exactly: the seed's 100 sequences per optimizer step whatever the number of processes. The
    micro-batch is the largest divisor of batch_size / world not above micro_batch_size."""
    if batch_size % world:
        fits = [n for n in range(1, batch_size + 1) if batch_size % n == 0]
        raise FsabenchError(f"pretrain.batch_size {batch_size} cannot be split evenly over {world} processes",
                            hint=f"launch {', '.join(map(str, fits[:9]))}{', ...' if len(fits) > 9 else ''} processes, "
                                 f"or set pretrain.batch_size "
                                 f"to a multiple of {world}")
    per_process = batch_size // world
    micro = max(d for d in range(1, min(micro_batch_size, per_process) + 1) if per_process % d == 0)
    return micro, per_process // micro


def micro_weights(label_tokens: list[int], batching: str) -> list[float]:
    """The weight of each micro-batch's mean token loss in one optimizer step. Random batches: the
    plain mean over micro-batches, as the seed's trainer (Lightning's accumulation) does. Length
    buckets: each weighted by its share of the step's target tokens, so every token counts alike and
    a bucket of short answers is not up-weighted (a per-bucket mean would weight them up to ~6x)."""
    if batching == "bucket":
        total = sum(label_tokens) or 1
        return [n / total for n in label_tokens]
    return [1 / len(label_tokens)] * len(label_tokens)


def is_complete(out: Path) -> bool:
    path = Path(out) / SUMMARY
    return path.is_file() and read_json_object(path, "pretraining summary").get("complete", False) is True


def pretrain(student: str, corpus: Path, out: Path, cfg: PretrainConfig = PretrainConfig(),
             valid: Path | None = None, report: Callable[[dict[str, Any]], None] | None = None,
             stop_after: int | None = None, selective_loss: bool = True) -> dict[str, Any]:
    """Train, resuming from the newest checkpoint in `out`; return the summary (also pretrain.json).

    `stop_after` ends this run after that many steps without a final save, as a crash would (tests
    use it to show that resuming reaches the same loss). `selective_loss=False` computes the loss as
    the model's own forward does (every position projected onto the vocabulary; the same loss, slower:
    fsabench.distill.lossfn)."""
    out = Path(out)
    if is_complete(out):
        return read_json_object(out / SUMMARY, "pretraining summary")
    out.mkdir(parents=True, exist_ok=True)
    files = corpus_files(corpus, valid, cfg)
    run = Run.start(student, out, files, cfg, selective_loss)
    try:
        return _train(run, out, cfg, report or (lambda _: None), stop_after)
    finally:
        run.batches.close()  # stops the thread making the next micro-batches


def _train(run: Run, out: Path, cfg: PretrainConfig, report: Callable[[dict[str, Any]], None],
           stop_after: int | None) -> dict[str, Any]:
    started = run.state.step
    clock = time.perf_counter()
    while run.state.step < cfg.steps:
        run.train_step()
        step = run.state.step
        if step % cfg.log_every == 0 or step == cfg.steps:
            report(run.log_line())
        if (step % cfg.eval_every == 0 or step == cfg.steps) and run.valid_set:
            report({**run.log_line(), "valid_loss": run.evaluate()})
        if step % cfg.save_every == 0 or step == cfg.steps:
            run.save_checkpoint()
        if stop_after is not None and step - started >= stop_after:
            return {**run.summary(time.perf_counter() - clock), "complete": False}
    run.save_final()
    summary = {**run.summary(time.perf_counter() - clock), "complete": True}
    if run.is_main:  # written last, after the weights: the marker that the stage is complete
        write_json_atomic(out / SUMMARY, summary)
    return summary


class Run:
    """The mutable state of one pretraining run: model, optimizer, data stream, TrainState."""

    def __init__(self, model, tokenizer, optimizer, stream, valid, state: TrainState, cfg: PretrainConfig,
                 out: Path, student: str, device: str, autocast_dtype, accelerator=None) -> None:
        self.model, self.tokenizer, self.optimizer = model, tokenizer, optimizer
        self.valid_set, self.state, self.cfg, self.out, self.student = valid, state, cfg, out, student
        self.device, self.autocast_dtype, self.accelerator = device, autocast_dtype, accelerator
        from fsabench.distill.data import prefetched

        self.batches = prefetched(stream.batches(state.position))  # the next micro-batches made during the step
        self.world = accelerator.num_processes if accelerator else 1
        self.micro, self.accum = split_batch(cfg.batch_size, cfg.micro_batch_size, self.world)
        self._window: list[tuple[int, float]] = []  # (tokens, seconds) of recent steps for tokens/s

    @classmethod
    def start(cls, student: str, out: Path, files: CorpusFiles, cfg: PretrainConfig,
              selective_loss: bool = True) -> "Run":
        import torch

        from fsabench.distill.data import CorpusStream, StreamConfig, valid_batches, valid_pairs
        from fsabench.distill.optim import AdamWScale, param_groups
        from fsabench.distill.student import load_student, pick_precision

        from fsabench.threads import use_threads

        use_threads(cfg.threads)  # explicit, else FSABENCH_THREADS, else physical cores (never oversubscribed)
        random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        model, tokenizer = load_student(student)
        resume = checkpoint.latest(out)
        if resume is not None:
            from transformers import AutoModelForSeq2SeqLM

            model = AutoModelForSeq2SeqLM.from_pretrained(resume)
        accelerator = maybe_accelerator(cfg)
        device, autocast_dtype = pick_precision(cfg.device, cfg.dtype)
        if accelerator:
            device = str(accelerator.device)
        model.to(device).train()
        optimizer = AdamWScale(param_groups(model, cfg.weight_decay), lr=cfg.lr)
        state = checkpoint.load(resume, optimizer) if resume is not None else TrainState()
        from fsabench.distill.lossfn import Seq2SeqLMLoss

        model = Seq2SeqLMLoss(model, selective_loss)  # the student is `.model`; the loss projects label tokens only
        if accelerator:
            model, optimizer = accelerator.prepare(model, optimizer)
        shard = (accelerator.process_index, accelerator.num_processes) if accelerator else (0, 1)
        micro, _ = split_batch(cfg.batch_size, cfg.micro_batch_size, shard[1])
        stream_cfg = StreamConfig(micro, cfg.max_input_tokens, cfg.max_target_tokens, cfg.buffer_rows, cfg.seed,
                                  files.valid_fraction or 0.0, shard, cfg.shuffle, cfg.batching)
        source = files.valid or files.train
        pairs = valid_pairs(source, files.valid_fraction, cfg.valid_max_rows)
        if accelerator is None or accelerator.is_main_process:
            tokenizer.save_pretrained(out)
        return cls(model, tokenizer, optimizer, CorpusStream(files.train, tokenizer, stream_cfg),
                   valid_batches(pairs, tokenizer, stream_cfg), state, cfg, out, student, device,
                   autocast_dtype, accelerator)

    def _loss(self, batch):
        import torch

        device_type = "cuda" if str(self.device).startswith("cuda") else "cpu"
        with torch.autocast(device_type=device_type, dtype=self.autocast_dtype or torch.float32,
                            enabled=self.autocast_dtype is not None):
            return self.model(batch.input_ids.to(self.device), batch.attention_mask.to(self.device),
                              batch.labels.to(self.device))

    def train_step(self) -> None:
        import torch

        from fsabench.distill.optim import cosine_lr, set_lr

        cfg, state = self.cfg, self.state
        clock = time.perf_counter()
        set_lr(self.optimizer, cosine_lr(state.step, cfg.steps, cfg.lr, cfg.final_lr, cfg.warmup_steps))
        total, tokens = 0.0, 0
        batches = [next(self.batches) for _ in range(self.accum)]
        position = batches[-1][1]
        weights = micro_weights([int((b.labels != -100).sum()) for b, _ in batches], self.cfg.batching)
        for (batch, _), weight in zip(batches, weights):
            loss = self._loss(batch)
            scaled = loss * weight
            self.accelerator.backward(scaled) if self.accelerator else scaled.backward()
            total += loss.item()
            tokens += batch.tokens
        params = self.model.parameters()
        if self.accelerator:
            self.accelerator.clip_grad_norm_(params, cfg.grad_clip)
        else:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        seconds = time.perf_counter() - clock
        state.step += 1
        state.position = position
        state.losses.append(total / self.accum)  # the mean of micro-batch losses, whatever the weighting
        state.tokens += tokens
        state.seconds += seconds
        self._window = (self._window + [(tokens, seconds)])[-20:]

    def tokens_per_second(self) -> float:
        tokens, seconds = sum(t for t, _ in self._window), sum(s for _, s in self._window)
        return tokens / seconds if seconds else 0.0

    def log_line(self) -> dict[str, Any]:
        from fsabench.distill.optim import cosine_lr

        cfg, state = self.cfg, self.state
        line = {"step": state.step, "steps": cfg.steps, "loss": round(state.losses[-1], 6),
                "lr": cosine_lr(state.step - 1, cfg.steps, cfg.lr, cfg.final_lr, cfg.warmup_steps),
                "tokens_per_second": round(self.tokens_per_second(), 1)}
        if self.is_main:
            with (self.out / LOG).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")
        return line

    @property
    def is_main(self) -> bool:
        return self.accelerator is None or self.accelerator.is_main_process

    def evaluate(self) -> float:
        """Token-weighted mean loss over the held-out rows (no dropout; RNG untouched)."""
        import torch

        self.model.eval()
        total = count = 0.0
        with torch.no_grad():
            for batch in self.valid_set:
                n = int((batch.labels != -100).sum())
                total += float(self._loss(batch)) * n
                count += n
        self.model.train()
        value = round(total / count, 6) if count else float("nan")
        self.state.valid.append((self.state.step, value))
        return value

    def _unwrapped(self):
        """The student itself (self.model is its loss module, maybe wrapped by accelerate)."""
        return (self.accelerator.unwrap_model(self.model) if self.accelerator else self.model).model

    def save_checkpoint(self) -> None:
        if self.accelerator:
            self.accelerator.wait_for_everyone()
        if self.is_main:
            checkpoint.save(self.out, self._unwrapped(), self.optimizer, self.state, self.cfg.keep_checkpoints)

    def save_final(self) -> None:
        if self.is_main:
            self._unwrapped().save_pretrained(self.out)
            self.tokenizer.save_pretrained(self.out)

    def summary(self, seconds: float) -> dict[str, Any]:
        state = self.state
        return {"student": self.student, "steps": state.step, "final_loss": state.losses[-1] if state.losses else None,
                "valid": [{"step": s, "loss": v} for s, v in state.valid], "tokens": state.tokens,
                "tokens_per_second": round(state.tokens / state.seconds, 1) if state.seconds else None,
                "train_seconds": round(state.seconds, 2), "run_seconds": round(seconds, 2),
                "device": str(self.device), "autocast": str(self.autocast_dtype).replace("torch.", ""),
                "processes": self.world, "micro_batch_size": self.micro, "accumulation": self.accum,
                "config": self.cfg.model_dump(mode="json")}


def maybe_accelerator(cfg: PretrainConfig):
    """An accelerate Accelerator when launched on several processes (`accelerate launch`), else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import Accelerator

    from fsabench.distill.student import pick_precision

    device, autocast_dtype = pick_precision(cfg.device, cfg.dtype)
    # cpu=True makes accelerate run data parallel over CPU processes (gloo); without it, it runs
    # every CPU process alone, each training the whole model on its own
    return Accelerator(mixed_precision="bf16" if autocast_dtype is not None else "no", cpu=device == "cpu")
