"""Pretraining parts: nanoT5's AdamWScale, schedules, the streaming bucketed corpus, and a real tiny
pretraining run that is interrupted and resumed to exactly the loss of an uninterrupted run."""

from __future__ import annotations

import json
import math

import pytest

from tests.conftest import DATA_DIR

TEACHER_FILE = DATA_DIR / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"


def reference_step(params, states, lr, weight_decay, betas=(0.9, 0.999), eps=1e-6):
    """nanoT5's AdamWScale.step, one tensor at a time (nanoT5/utils/copied_utils.py)."""
    for p in params:
        st = states.setdefault(id(p), {"step": 0, "m": p.new_zeros(p.shape), "v": p.new_zeros(p.shape)})
        st["step"] += 1
        st["m"].mul_(betas[0]).add_(p.grad, alpha=1 - betas[0])
        st["v"].mul_(betas[1]).addcmul_(p.grad, p.grad, value=1 - betas[1])
        size = lr * math.sqrt(1 - betas[1] ** st["step"]) / (1 - betas[0] ** st["step"])
        size *= max(1e-3, float(p.norm(2) / p.numel() ** 0.5))
        p.data.addcdiv_(st["m"], st["v"].sqrt().add_(eps), value=-size)
        p.data.add_(p.data, alpha=-lr * weight_decay)


def test_adamwscale_matches_nanot5_step_by_step():
    import torch

    from fsabench.distill.optim import AdamWScale

    torch.manual_seed(0)
    ours = [torch.randn(5, 3), torch.zeros(4), torch.randn(7) * 1e-5]  # normal, zero (rms floor), tiny
    ref = [t.clone() for t in ours]
    for t in ours + ref:
        t.requires_grad_()
    optimizer, states = AdamWScale(ours, lr=3e-3, weight_decay=0.01), {}
    for _ in range(5):
        grads = [torch.randn_like(t) for t in ours]
        for a, b, g in zip(ours, ref, grads):
            a.grad, b.grad = g.clone(), g.clone()
        optimizer.step()
        with torch.no_grad():
            reference_step(ref, states, 3e-3, 0.01)
    for a, b in zip(ours, ref):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)


def test_schedules_start_and_end_where_the_paper_says():
    from fsabench.distill.optim import cosine_lr, linear_lr

    assert cosine_lr(0, 100, 1.5e-3, 1e-5) == pytest.approx(1.5e-3)
    assert cosine_lr(100, 100, 1.5e-3, 1e-5) == pytest.approx(1e-5)
    assert cosine_lr(50, 100, 1.5e-3, 1e-5) == pytest.approx((1.5e-3 + 1e-5) / 2)
    assert linear_lr(0, 10, 3e-4) == pytest.approx(3e-4) and linear_lr(10, 10, 3e-4) == 0.0


def test_bucketed_stream_resumes_at_any_position_and_buckets_by_length(tiny_t5):
    from transformers import AutoTokenizer

    from fsabench.distill.data import CorpusStream, Position, StreamConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_t5)
    cfg = StreamConfig(micro_batch_size=8, max_target_tokens=96, buffer_rows=40, seed=3, valid_fraction=0.1,
                       batching="bucket")
    stream = CorpusStream(TEACHER_FILE, tokenizer, cfg)
    first = [b for _, b in zip(range(12), stream.batches())]  # crosses buffer boundaries
    resumed = [b for _, b in zip(range(5), stream.batches(first[6][1]))]
    for (a, pa), (b, pb) in zip(first[7:], resumed):
        assert pa == pb and a.input_ids.equal(b.input_ids) and a.labels.equal(b.labels)
    # length bucketing: far less label padding than batches in file order
    padded = sum(b.labels.numel() for b, _ in first)
    real = sum(int((b.labels != -100).sum()) for b, _ in first)
    assert real / padded > 0.85
    # one epoch covers every row not held out, once
    rows = 0
    for batch, position in stream.batches(Position()):
        if position.epoch > 0:
            break
        rows += batch.rows
    assert 420 < rows < 480


@pytest.mark.slow  # trains the tiny T5 three times (6 + 3 + 3 steps): ~50 s here under load
def test_interrupted_pretraining_resumes_to_the_same_final_loss(tiny_t5, tmp_path):
    from fsabench.distill.pretrain import PretrainConfig, pretrain
    from fsabench.models.hf import HFAdapter
    from fsabench.models.base import Request

    cfg = PretrainConfig(steps=6, batch_size=8, micro_batch_size=4, max_target_tokens=64, save_every=2,
                         eval_every=3, buffer_rows=64, lr=1e-2, threads=1, valid_fraction=0.05, valid_max_rows=16)
    student = f"hf:{tiny_t5}"
    whole = pretrain(student, TEACHER_FILE, tmp_path / "whole", cfg)
    stopped = pretrain(student, TEACHER_FILE, tmp_path / "split", cfg, stop_after=3)  # dies after step 3
    assert not stopped["complete"] and stopped["steps"] == 3  # newest checkpoint: step 2
    resumed = pretrain(student, TEACHER_FILE, tmp_path / "split", cfg)
    assert resumed["complete"] and resumed["steps"] == 6
    assert resumed["final_loss"] == whole["final_loss"]
    assert resumed["valid"] == whole["valid"] and len(whole["valid"]) == 2
    log = [json.loads(line) for line in (tmp_path / "whole" / "train_log.jsonl").read_text().splitlines()]
    assert all(line["tokens_per_second"] > 0 for line in log)
    # the output folder is an hf: model with [NL] in its vocabulary
    adapter = HFAdapter(name="hf:student", target=str(tmp_path / "whole"), device="cpu")
    assert "[NL]" in adapter.tokenizer.get_vocab()
    assert adapter.generate([Request(id="1", prompt="The pizza was great.", max_new_tokens=5)])[0].text is not None


def test_prefetched_batches_keep_their_order_raise_where_the_stream_fails_and_stop_when_closed():
    import threading

    from fsabench.distill.data import prefetched
    from fsabench.errors import DataError

    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield from range(3)
        raise DataError("corpus.jsonl: bad line")

    got = []
    with pytest.raises(DataError, match="bad line"):
        got.extend(prefetched(failing()))  # extends item by item: what came before the error stays
    assert got == [0, 1, 2]

    def endless():
        n = 0
        while True:
            yield n
            n += 1

    stream = prefetched(endless())
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()
    for thread in threading.enumerate():
        if thread.name == "fsabench-batches":
            thread.join(timeout=5)
    assert not any(t.name == "fsabench-batches" and t.is_alive() for t in threading.enumerate())
