"""`distill recipe paper.yaml --check`: will this recipe run on the GPUs, checked on this CPU first.

No weights are needed: the student is built from its config (the local config when the model is on
disk or in the Hugging Face cache, else the published shape of t5-small/base/large), with random
token ids at the recipe's worst-case shapes (pretraining: micro-batch x max_input_tokens in,
max_target_tokens out; fine-tuning: batch_size x max_input/target_tokens). It runs `micro_batches`
pretraining micro-batches through the very loss and optimizer the pretraining loop uses (one
optimizer step), and one fine-tuning step with the fine-tuning optimizer, under the precision the
GPU will use (bf16 autocast for `dtype: auto`). What autograd saves for the backward pass is
counted as it runs, which gives the activation memory of one micro-batch; with the weights,
gradients and optimizer states (16 bytes a parameter: float32 weights and gradients, two Adam
moments) that is the per-device memory for every number of processes the batch can be split over.
The estimates leave out the CUDA context and allocator slack (add about 1 GiB).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from fsabench.errors import FsabenchError

# the published shapes (config.json of google-t5/*) for when no config is on disk; vocab 32,100 sentencepiece
# pieces plus [NL], as load_student resizes the embeddings to the tokenizer
KNOWN_T5 = {"t5-small": dict(d_model=512, d_ff=2048, num_layers=6, num_heads=8, d_kv=64),
            "t5-base": dict(d_model=768, d_ff=3072, num_layers=12, num_heads=12, d_kv=64),
            "t5-large": dict(d_model=1024, d_ff=4096, num_layers=24, num_heads=16, d_kv=64)}
T5_VOCAB_WITH_NL = 32101
GIB = 2 ** 30
TRANSIENT = 1.5  # peak over what autograd saves: gradients of activations live during the backward pass


def available_memory() -> int | None:
    """Bytes this machine can still give (MemAvailable), or None where /proc/meminfo is missing."""
    try:
        for line in open("/proc/meminfo", encoding="ascii"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def memory_budget(limit: float | None) -> tuple[float | None, int | None]:
    """(bytes the check may use, bytes this machine has free): 80% of MemAvailable, or `limit` bytes
    when that is smaller (a shared machine); None when neither is known."""
    room = available_memory()
    budget = [b for b in (None if room is None else 0.8 * room, limit) if b is not None]
    return (min(budget) if budget else None), room


def linear_fit(one: float, rows: int, saved: float) -> tuple[float, float]:
    """(fixed, per sequence) bytes from what autograd saved for one sequence and for `rows` (>= 2). The
    fixed part is real: under autocast every weight's low-precision copy is saved once per forward
    pass, whatever the batch (~0.42 GiB for t5-base in bf16), so one sequence's bytes times N overstate N."""
    per_row = max((saved - one) / (rows - 1), 0.0)
    return one - per_row, per_row


def fit_from(one: float, rows: int, saved: float, two: Callable[[], float]) -> tuple[float, float]:
    """(fixed, per sequence) bytes from one sequence and the batch of `rows` that ran (`saved` bytes); when
    that batch was one sequence too, `two()` runs a two-sequence pass for the second point."""
    return linear_fit(one, rows, saved) if rows > 1 else linear_fit(one, 2, two())


def rows_that_fit(rows: int, states: float, per_row: float, budget: float | None) -> int:
    """How many of a batch's `rows` sequences to run at the full lengths within `budget` bytes (at least
    one): all of them when they fit, which is the whole point; fewer, and the memory scaled per
    sequence, when they would not (a smaller machine, or --check-memory). `per_row` is one sequence's
    bytes, fixed part included, so the rule errs on the safe side."""
    if budget is None or states + TRANSIENT * per_row * rows < budget:
        return rows
    return max(1, min(rows, int((budget - states) / (TRANSIENT * per_row))))


def student_config(student) -> tuple[Any, str]:
    """(T5Config, where it came from) for a recipe's StudentSpec, without loading weights."""
    from transformers import AutoConfig, T5Config

    if student.tiny is not None:
        t = student.tiny
        return T5Config(vocab_size=t.vocab_size + 1, d_model=t.d_model, d_kv=t.d_model // t.num_heads, d_ff=t.d_ff,
                        num_layers=t.num_layers, num_heads=t.num_heads, pad_token_id=0, eos_token_id=1,
                        decoder_start_token_id=0), "tiny: the recipe's shape"
    from fsabench.distill.student import model_target

    target = model_target(student.model)
    try:
        config = AutoConfig.from_pretrained(target, local_files_only=True)
        return config, f"{target}: its config on disk"
    except (OSError, ValueError):
        pass
    name = target.rstrip("/").split("/")[-1].lower()
    if name not in KNOWN_T5:
        raise FsabenchError(f"student {student.model!r}: no config on disk and not a known T5 shape",
                            hint=f"download it once (huggingface-cli download {target} config.json) or use one "
                                 f"of {', '.join(KNOWN_T5)}")
    return T5Config(vocab_size=T5_VOCAB_WITH_NL, feed_forward_proj="relu", pad_token_id=0, eos_token_id=1,
                    decoder_start_token_id=0, **KNOWN_T5[name]), f"{name}: its published shape (no config on disk)"


class SavedBytes:
    """Bytes autograd keeps for the backward pass (each storage counted once)."""

    def __init__(self) -> None:
        self.storages: dict[int, int] = {}

    def pack(self, tensor):
        storage = tensor.untyped_storage()
        self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    @property
    def total(self) -> int:
        return sum(self.storages.values())


def _batch(config, rows: int, src: int, tgt: int, seed: int):
    import torch

    generator = torch.Generator().manual_seed(seed)
    high = min(config.vocab_size, 32000)
    return (torch.randint(2, high, (rows, src), generator=generator), torch.ones(rows, src, dtype=torch.long),
            torch.randint(2, high, (rows, tgt), generator=generator))


def check_recipe(recipe, micro_batches: int = 1, threads: int | None = None,
                 memory_limit: float | None = None) -> dict[str, Any]:
    """Run the recipe's pretraining micro-batches and one fine-tuning step on this CPU; return timings,
    the measured activation memory and per-device estimates for the batch splits the plan allows.
    `memory_limit`: the most bytes the check may use here (default: 80% of what the machine has free)."""
    import torch
    from transformers import T5ForConditionalGeneration

    from fsabench.distill.lossfn import Seq2SeqLMLoss
    from fsabench.distill.optim import AdamWScale, param_groups
    from fsabench.distill.pretrain import split_batch
    from fsabench.threads import use_threads

    use_threads(threads)
    torch.manual_seed(0)
    config, source = student_config(recipe.student)
    pre, ft = recipe.pretrain, recipe.finetune
    autocast = torch.bfloat16 if pre.dtype in ("auto", "bfloat16") else (torch.float16 if pre.dtype == "float16" else None)
    micro, accum = split_batch(pre.batch_size, pre.micro_batch_size, 1)
    clock = time.perf_counter()
    model = T5ForConditionalGeneration(config).train()
    params = sum(p.numel() for p in model.parameters())
    built = time.perf_counter() - clock
    loss_fn = Seq2SeqLMLoss(model)
    optimizer = AdamWScale(param_groups(model, pre.weight_decay), lr=pre.lr)

    def pretrain_pass(rows: int, seed: int, scale: float | None) -> tuple[float, float, int]:
        """(loss, seconds, bytes autograd saved) of one micro-batch of `rows` sequences at full lengths."""
        saved = SavedBytes()
        ids, mask, labels = _batch(config, rows, pre.max_input_tokens, pre.max_target_tokens, seed)
        clock = time.perf_counter()
        with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t), \
                torch.autocast("cpu", dtype=autocast or torch.float32, enabled=autocast is not None):
            loss = loss_fn(ids, mask, labels)
        if scale is not None:  # None: a probe, forward only (what autograd saves is known by then)
            (loss * scale).backward()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FsabenchError(f"pretraining micro-batch: loss is {value}",
                                hint="the student's config or the precision is broken")
        return value, time.perf_counter() - clock, saved.total

    # one sequence first, forward only: the activation memory per sequence says whether a whole micro-batch fits
    _, probe_seconds, one = pretrain_pass(1, 1000, None)
    states = 16 * params  # float32 weights + gradients + two Adam moments
    budget, room = memory_budget(memory_limit)
    rows = rows_that_fit(micro, states, one, budget)
    pretrain_runs = []
    for index in range(micro_batches):
        loss, seconds, saved = pretrain_pass(rows, index, 1 / micro_batches)
        pretrain_runs.append({"loss": round(loss, 4), "seconds": round(seconds, 2), "rows": rows})
    # the fixed and per-sequence parts, from one sequence and the micro-batch that ran (two more when it was one)
    if rows > 1 or micro > 1:
        fixed, per_row = fit_from(one, rows, saved, lambda: pretrain_pass(2, 1001, None)[2])
    else:
        fixed, per_row = 0.0, float(one)  # micro-batches of one sequence: measured as they are
    needed = states + TRANSIENT * (fixed + per_row * micro)

    def activations(m: int) -> float:
        """Bytes autograd saves for a micro-batch of m sequences: measured when that many ran, else scaled."""
        return saved if m == rows else fixed + per_row * m

    pretrain_activations = activations(micro)
    torch.nn.utils.clip_grad_norm_(model.parameters(), pre.grad_clip)
    clock = time.perf_counter()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    step_seconds = time.perf_counter() - clock
    del optimizer

    ft_optimizer = torch.optim.AdamW(model.parameters(), lr=ft.lr, eps=ft.adam_eps, weight_decay=ft.weight_decay)
    ft_autocast = torch.bfloat16 if ft.dtype in ("auto", "bfloat16") else (torch.float16 if ft.dtype == "float16" else None)

    def finetune_loss(rows: int, seed: int, saved: SavedBytes):
        ids, mask, labels = _batch(config, rows, ft.max_input_tokens, ft.max_target_tokens, seed)
        with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t), \
                torch.autocast("cpu", dtype=ft_autocast or torch.float32, enabled=ft_autocast is not None):
            return model(input_ids=ids, attention_mask=mask, labels=labels).loss  # the fine-tuning loop's own loss

    ft_probe = SavedBytes()  # one sequence, forward only: does the whole batch fit here?
    finetune_loss(1, 98, ft_probe)
    ft_rows = rows_that_fit(ft.batch_size, states, ft_probe.total, budget)
    ft_saved = SavedBytes()
    clock = time.perf_counter()
    ft_loss = finetune_loss(ft_rows, 99, ft_saved)
    ft_loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), ft.grad_clip)
    ft_optimizer.step()
    ft_seconds = time.perf_counter() - clock
    if ft_rows == ft.batch_size:
        ft_activations = ft_saved.total  # measured
    else:  # scaled from one sequence and the batch that ran (two more when it was one)
        def two_sequences() -> float:
            two = SavedBytes()
            finetune_loss(2, 97, two)
            return two.total

        ft_fixed, ft_per_row = fit_from(ft_probe.total, ft_rows, ft_saved.total, two_sequences)
        ft_activations = ft_fixed + ft_per_row * ft.batch_size

    devices = []
    for world in [w for w in range(1, 17) if pre.batch_size % w == 0]:
        m, a = split_batch(pre.batch_size, pre.micro_batch_size, world)
        devices.append({"processes": world, "micro_batch_size": m, "accumulation": a,
                        "pretrain_gib": round((states + TRANSIENT * activations(m)) / GIB, 2)})
    return {"recipe": recipe.name, "student": recipe.student.model or "tiny", "config": source,
            "parameters": params, "vocab_size": config.vocab_size, "build_seconds": round(built, 2),
            "precision": str(autocast).replace("torch.", "") if autocast else "float32",
            "threads": torch.get_num_threads(),
            "pretrain": {"shape": f"{micro} x {pre.max_input_tokens} in, {pre.max_target_tokens} out",
                         "micro_batches": pretrain_runs, "one_sequence_seconds": round(probe_seconds, 2),
                         "cpu_memory_needed_gib": round(needed / GIB, 2),
                         "cpu_memory_available_gib": None if room is None else round(room / GIB, 2),
                         "cpu_memory_limit_gib": None if memory_limit is None else round(memory_limit / GIB, 2),
                         "optimizer_step_seconds": round(step_seconds, 2),
                         "activations_gib_per_micro_batch": round(pretrain_activations / GIB, 3)},
            "finetune": {"shape": f"{ft.batch_size} x {ft.max_input_tokens} in, {ft.max_target_tokens} out",
                         "rows": ft_rows, "loss": round(float(ft_loss.detach()), 4), "seconds": round(ft_seconds, 2),
                         "activations_gib": round(ft_activations / GIB, 3),
                         "per_device_gib": round((states + TRANSIENT * ft_activations) / GIB, 2)},
            "model_states_gib": round(states / GIB, 2), "per_device": devices,
            "note": f"estimates: float32 weights, gradients and Adam moments (16 bytes a parameter) plus {TRANSIENT}x "
                    "the activations autograd saved for one micro-batch at the worst-case lengths (gradients of "
                    "activations live during the backward pass); add ~1 GiB for the CUDA context"}


def render(report: dict[str, Any]) -> str:
    pre, ft = report["pretrain"], report["finetune"]
    limit = f", --check-memory {pre['cpu_memory_limit_gib']} GiB" if pre.get("cpu_memory_limit_gib") else ""
    lines = [f"recipe {report['recipe']}: student {report['student']} ({report['config']}), "
             f"{report['parameters']:,} parameters, vocab {report['vocab_size']:,}; {report['precision']} autocast, "
             f"{report['threads']} CPU thread(s)",
             f"pretraining micro-batches ({pre['shape']}): " + ", ".join(
                 f"{r['rows']} sequences, loss {r['loss']} in {r['seconds']} s" for r in pre["micro_batches"])
             + f"; optimizer step {pre['optimizer_step_seconds']} s: ok",
             *([f"  (a whole micro-batch needs ~{pre['cpu_memory_needed_gib']} GiB here, "
                f"{pre['cpu_memory_available_gib']} GiB available{limit}: ran fewer sequences at the full lengths; "
                f"the memory figures scale per sequence)"] if pre["micro_batches"][0]["rows"] < int(pre["shape"].split()[0])
               else []),
             f"fine-tuning step ({ft['shape']}): "
             + (f"{ft['rows']} sequences, " if ft["rows"] < int(ft["shape"].split()[0]) else "")
             + f"loss {ft['loss']} in {ft['seconds']} s: ok",
             f"memory per device: model states {report['model_states_gib']} GiB; activations "
             f"{pre['activations_gib_per_micro_batch']} GiB per pretraining micro-batch, {ft['activations_gib']} GiB "
             f"per fine-tuning batch",
             "  processes  micro-batch  accumulation  pretraining GiB/device"]
    for d in report["per_device"]:
        lines.append(f"  {d['processes']:>9}  {d['micro_batch_size']:>11}  {d['accumulation']:>12}  {d['pretrain_gib']:>22}")
    lines.append(f"  fine-tuning (one job per GPU): {ft['per_device_gib']} GiB")
    lines.append(report["note"])
    return "\n".join(lines)

