"""A minimal fixed-step seq2seq training loop for test fixtures (the real recipe lives in fsabench.distill)."""

from __future__ import annotations

import random
from pathlib import Path


def train_seq2seq(model_dir: Path, pairs: list[tuple[str, str]], out_dir: Path, steps: int = 400,
                  batch_size: int = 32, lr: float = 3e-3, seed: int = 0) -> Path:
    import torch
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = T5ForConditionalGeneration.from_pretrained(model_dir)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        batch = rng.sample(pairs, batch_size)
        inputs = tokenizer([x for x, _ in batch], return_tensors="pt", padding=True, truncation=True, max_length=96)
        labels = tokenizer([y for _, y in batch], return_tensors="pt", padding=True, truncation=True,
                           max_length=64).input_ids
        labels[labels == tokenizer.pad_token_id] = -100
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
