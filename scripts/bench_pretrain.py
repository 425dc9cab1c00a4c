#!/usr/bin/env python3
"""Pretraining speed and memory, measured side by side in one run.

1. Tokens per second of `fsabench distill pretrain` vs transformers' Seq2SeqTrainer: the same tiny
   T5, the same data (the 500 real Mixtral responses), the same optimizer (AdamWScale on the cosine
   schedule), batch, accumulation and steps. Tokens are real (non-padding) input + target tokens,
   counted in the batches each loop actually trained on. Runs alternate and the median is reported,
   since other processes share this machine. Trainer is shown on exactly fsabench's random micro-batches
   (a batch sampler replaying its per-epoch permutation: the like-for-like comparison), with its own
   random sampler (other batches, so other padding) and with `train_sampling_strategy="group_by_length"`.
   Trainer tokenizes the corpus before its clock starts; fsabench's time includes reading and tokenizing.
2. Peak memory (max RSS) of pretraining over the corpus at 1x, 10x and 100x its size, each in a
   fresh process: flat when the corpus streams from disk.

    FSABENCH_DATA_DIR=../shared/data .venv/bin/python scripts/bench_pretrain.py [--steps 20] [--repeats 3]
    OMP_NUM_THREADS=1 FSABENCH_DATA_DIR=../shared/data .venv/bin/python scripts/bench_pretrain.py --quick --skip-memory

`fsabench --batching random (before)` is the loop as it ran before issue 26 (the model's own loss over
every padded position, the corpus re-tokenized every epoch); its losses are compared step by step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FSABENCH_DATA_DIR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
TEACHER = Path(os.environ["FSABENCH_DATA_DIR"]) / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"


def build_student(folder: Path) -> Path:
    from fsabench.distill.data import NEWLINE_TOKEN, pair_of, read_lines
    from fsabench.tiny import build_tiny_t5

    texts = [t.replace(NEWLINE_TOKEN, " ") for row, _ in read_lines(TEACHER) if (p := pair_of(row)) for t in p]
    return build_tiny_t5(texts, folder)


def ours(student: Path, out: Path, args, batching: str = "bucket", before: bool = False,
         losses: list | None = None) -> tuple[float, float]:
    """fsabench's loop; `before` = as it ran before issue 26 (the model's own full-vocabulary loss,
    the corpus re-tokenized every epoch), for the speed-up and the identical-loss check."""
    import fsabench.distill.data as data
    from fsabench.distill.pretrain import PretrainConfig, Run, pretrain

    cfg = PretrainConfig(steps=args.steps, batch_size=args.batch, micro_batch_size=args.micro, lr=2e-2,
                         max_target_tokens=args.target_len, save_every=10**9, eval_every=10**9, valid_fraction=0.0,
                         threads=args.threads, seed=0, batching=batching, log_every=1)
    cache_rows, data.TOKEN_CACHE_ROWS = data.TOKEN_CACHE_ROWS, 0 if before else data.TOKEN_CACHE_ROWS
    step, cpu = Run.train_step, [0.0]

    def timed_step(self):  # CPU of the training steps only, as Trainer's is timed over its training loop
        clock = time.process_time()
        step(self)
        cpu[0] += time.process_time() - clock

    Run.train_step = timed_step
    try:
        seen: list = []
        summary = pretrain(f"hf:{student}", TEACHER, out, cfg, report=seen.append, selective_loss=not before)
    finally:
        data.TOKEN_CACHE_ROWS = cache_rows
        Run.train_step = step
    if losses is not None:
        losses.append([line["loss"] for line in seen])
    return summary["tokens"] / summary["train_seconds"], summary["tokens"] / cpu[0]


class SameBatches:
    """The micro-batches fsabench's random batching trains on (a permutation of the corpus per epoch,
    seeded by (seed, epoch), cut into micro-batches that end at the epoch's end), as a batch sampler:
    Trainer then trains on exactly the same sequences in the same order."""

    def __init__(self, count: int, micro: int, seed: int = 0) -> None:
        self.count, self.micro, self.seed, self.epoch = count, micro, seed, 0

    def __len__(self) -> int:
        return -(-self.count // self.micro)

    def __iter__(self):
        import numpy as np

        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.count).tolist()
        self.epoch += 1
        for i in range(0, self.count, self.micro):
            yield order[i:i + self.micro]


def trainer(student: Path, out: Path, args, sampling: str) -> tuple[float, float]:
    """Seq2SeqTrainer; sampling "same" = fsabench's random batches exactly, "random" = Trainer's own random
    sampler, "group_by_length" = Trainer's length grouping."""
    import torch
    from torch.utils.data import DataLoader
    from transformers import (AutoModelForSeq2SeqLM, AutoTokenizer, DataCollatorForSeq2Seq, Seq2SeqTrainer,
                              Seq2SeqTrainingArguments, TrainerCallback)

    from fsabench.distill.data import pair_of, read_lines
    from fsabench.distill.optim import AdamWScale, cosine_lr, param_groups

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(student)
    model = AutoModelForSeq2SeqLM.from_pretrained(student)
    pairs = [p for row, _ in read_lines(TEACHER) if (p := pair_of(row))]
    sources = tokenizer([a for a, _ in pairs], truncation=True, max_length=128)["input_ids"]
    targets = tokenizer([b for _, b in pairs], truncation=True, max_length=args.target_len)["input_ids"]
    data = [{"input_ids": s, "attention_mask": [1] * len(s), "labels": t} for s, t in zip(sources, targets)]
    counted = {"tokens": 0}
    base = DataCollatorForSeq2Seq(tokenizer, model=model)

    def count(_model, _args, kwargs):  # tokens of the micro-batches trained on, counted where the model
        # runs: the collator would also count the batch accelerate's loader fetches ahead (one micro-batch
        # more than trained on: +6% at 8 steps x 2 micro-batches, the bias of the figures before this)
        counted["tokens"] += int(kwargs["attention_mask"].sum()) + int((kwargs["labels"] != -100).sum())

    model.register_forward_pre_hook(count, with_kwargs=True)
    collate = base

    class SameBatchTrainer(Seq2SeqTrainer):
        def get_train_dataloader(self):
            return self.accelerator.prepare(DataLoader(self.train_dataset, batch_sampler=SameBatches(len(data), args.micro),
                                                       collate_fn=self.data_collator, num_workers=0))

    optimizer = AdamWScale(param_groups(model, 0.0), lr=2e-2)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_lr(s, args.steps, 2e-2, 1e-5) / 2e-2)
    settings = Seq2SeqTrainingArguments(
        output_dir=str(out), max_steps=args.steps, per_device_train_batch_size=args.micro,
        gradient_accumulation_steps=args.batch // args.micro, max_grad_norm=1.0, logging_strategy="no",
        save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True, seed=0, dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if sampling == "group_by_length" else "random")
    kind = SameBatchTrainer if sampling == "same" else Seq2SeqTrainer
    cpu = {}

    class Clock(TrainerCallback):  # CPU of the training loop (from its start to its end), not the setup
        def on_train_begin(self, *_, **__):
            cpu["begin"] = time.process_time()

        def on_train_end(self, *_, **__):
            cpu["end"] = time.process_time()

    run = kind(model=model, args=settings, train_dataset=data, data_collator=collate, optimizers=(optimizer, schedule),
               callbacks=[Clock()])
    clock = time.perf_counter()
    run.train()
    return counted["tokens"] / (time.perf_counter() - clock), counted["tokens"] / (cpu["end"] - cpu["begin"])


def speed(args) -> dict:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    random_name = "fsabench --batching random"
    before_name = "fsabench --batching random (before)"
    same_name = "Seq2SeqTrainer (the same batches)"
    results: dict[str, list[tuple[float, float]]] = {"fsabench": [], random_name: [], before_name: [], same_name: [],
                                       "Seq2SeqTrainer": [], "Seq2SeqTrainer group_by_length": []}
    losses: dict[str, list] = {random_name: [], before_name: []}
    with tempfile.TemporaryDirectory() as tmp:
        student = build_student(Path(tmp) / "student")
        runs = {"fsabench": lambda r: ours(student, Path(tmp) / f"ours{r}", args),
                random_name: lambda r: ours(student, Path(tmp) / f"oursr{r}", args, "random", losses=losses[random_name]),
                before_name: lambda r: ours(student, Path(tmp) / f"oursb{r}", args, "random", before=True,
                                            losses=losses[before_name]),
                same_name: lambda r: trainer(student, Path(tmp) / f"hfs{r}", args, "same"),
                "Seq2SeqTrainer": lambda r: trainer(student, Path(tmp) / f"hf{r}", args, "random"),
                "Seq2SeqTrainer group_by_length": lambda r: trainer(student, Path(tmp) / f"hfg{r}", args,
                                                                    "group_by_length")}
        if args.only:
            wanted = {VARIANTS[k.strip()] for k in args.only.split(",")}
            results = {k: v for k, v in results.items() if k in wanted}
        # one untimed run first: the process's one-time costs (lazy imports, kernel selection, allocator
        # growth) would otherwise land on whichever variant comes first
        ours(student, Path(tmp) / "warmup", argparse.Namespace(**{**vars(args), "steps": 2}), "random")
        names = list(results)
        for repeat in range(args.repeats):  # interleaved, the order rotated each repeat (load changes and
            # position then hit every variant alike)
            turn = (repeat + args.first) % len(names)
            for name in names[turn:] + names[:turn]:
                results[name].append(runs[name](repeat))
            print(f"repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1][0]:,.0f} ({v[-1][1]:,.0f}/CPU s)"
                                                      for k, v in results.items())
                  + f"  (load {_load()})", flush=True)
    medians = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    per_cpu = {k: statistics.median(c for _, c in v) for k, v in results.items()}
    base = same_name if same_name in medians else None
    print(f"\ntokens/s (median of {args.repeats}; {args.steps} steps x {args.batch} sequences, micro-batch "
          f"{args.micro}, targets <= {args.target_len} tokens, {args.threads} thread(s); load average {_load()}).\n"
          f"Wall: the training clock. Per CPU s: tokens per second of this process's CPU time over the training steps "
          f"(fsabench) / the training loop (Trainer), threads included: steadier than wall when other jobs share "
          f"the machine.")
    print(f"  {'contender':38s} {'tok/s':>9s} {'vs Trainer':>10s} {'tok/CPU s':>10s} {'vs Trainer':>10s}")
    for name, value in medians.items():
        wall = f"{value / medians[base]:.2f}x" if base else "-"
        cpu = f"{per_cpu[name] / per_cpu[base]:.2f}x" if base else "-"
        print(f"  {name:38s} {value:9,.0f} {wall:>10s} {per_cpu[name]:10,.0f} {cpu:>10s}")
    if not (losses[random_name] and losses[before_name]):
        return medians
    now, before = losses[random_name], losses[before_name]
    gap = max(abs(a - b) for x in now for y in before for a, b in zip(x, y))
    repeat_gap = max(abs(a - b) for x in now for a, b in zip(x, now[0]))
    print(f"losses per step, --batching random now vs before (same seed, every repeat): largest difference {gap:.2e} "
          f"over {len(now[0])} steps (first {now[0][0]:.6f} vs {before[0][0]:.6f}, last {now[0][-1]:.6f} vs "
          f"{before[0][-1]:.6f}); between repeats of now: {repeat_gap:.2e}")
    return medians


VARIANTS = {"bucket": "fsabench", "random": "fsabench --batching random",
            "before": "fsabench --batching random (before)", "same": "Seq2SeqTrainer (the same batches)",
            "trainer": "Seq2SeqTrainer", "group": "Seq2SeqTrainer group_by_length"}


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


MEMORY_CHILD = """
import json, resource, sys
from pathlib import Path
from fsabench.distill.pretrain import PretrainConfig, pretrain
cfg = PretrainConfig(steps={steps}, batch_size=32, micro_batch_size=16, max_target_tokens=128, save_every=10**9,
                     eval_every=10**9, valid_fraction=0.01, valid_max_rows=64, threads=1, buffer_rows=1024,
                     batching="bucket")
pretrain("hf:{student}", Path("{corpus}"), Path("{out}"), cfg)
print(json.dumps({{"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def memory(args) -> dict:
    lines = [line for line in TEACHER.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        student = build_student(Path(tmp) / "student")
        for factor in (1, 10, 100):
            corpus = Path(tmp) / f"corpus{factor}.jsonl"
            with corpus.open("w", encoding="utf-8") as handle:
                for copy in range(factor):
                    for line in lines:
                        row = json.loads(line)
                        row["ID"] = f"{row['ID']}-{copy}"
                        handle.write(json.dumps(row) + "\n")
            code = MEMORY_CHILD.format(steps=args.memory_steps, student=student, corpus=corpus, out=Path(tmp) / f"m{factor}")
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
            peaks[factor] = json.loads(done.stdout.strip().splitlines()[-1])["max_rss_mb"]
            size = corpus.stat().st_size / 1e6
            print(f"corpus {factor:>3}x ({size:6.1f} MB, {len(lines) * factor:>6} rows): peak RSS {peaks[factor]:7.1f} MB",
                  flush=True)
    print(f"peak memory 10x / 1x = {peaks[10] / peaks[1]:.3f}; 100x / 1x = {peaks[100] / peaks[1]:.3f}")
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32, help="sequences per optimizer step")
    parser.add_argument("--micro", type=int, default=16, help="sequences per forward pass")
    parser.add_argument("--target-len", type=int, default=400, help="the paper's response budget")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-steps", type=int, default=40)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--first", type=int, default=0, help="start the rotation of the variants at this one "
                                                               "(several processes: give each another)")
    parser.add_argument("--only", help=f"comma-separated variants to run: {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="a few minutes on a quiet machine: 8 steps, memory "
                                                             "at 10 steps (same settings otherwise)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.memory_steps = 8, 10
    if not args.skip_speed:
        speed(args)
    if not args.skip_memory:
        memory(args)


if __name__ == "__main__":
    main()
