"""Corpus rows -> length-bucketed, tokenized micro-batches, streamed from disk.

Memory stays flat in the corpus size: the stream reads a fixed-size buffer of rows at a time,
sorts the buffer by length, cuts it into micro-batches (little padding) and shuffles their order
with an RNG seeded by (seed, epoch, buffer offset). A `Position` (epoch, byte offset of the
buffer, micro-batches already taken from it) therefore pins the stream exactly: resuming re-reads
that buffer, rebuilds the same batches and skips the ones already used.

Rows follow the seed corpus format (HITSZ-HLT/FSA-Distillation): `Text` is the review, the
teacher's answer is the one `*_response` field; rows that carry a `prompt` text (the released
prompt-prefixed variant) are read as `prompt + Text` -> `extracted_llama_response`. Newlines
become the `[NL]` token on both sides, as the paper's data module does.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fsabench.errors import DataError

from fsabench.formats import NEWLINE_TOKEN  # noqa: E402  (defined once)


@dataclass(frozen=True)
class Position:
    epoch: int = 0
    offset: int = 0  # byte offset of the current buffer's first line
    batch: int = 0  # micro-batches of that buffer already yielded

    def as_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "offset": self.offset, "batch": self.batch}


@dataclass(frozen=True)
class StreamConfig:
    micro_batch_size: int
    max_input_tokens: int = 128
    max_target_tokens: int = 400
    buffer_rows: int = 4096
    seed: int = 0
    valid_fraction: float = 0.0  # rows held out by hash (skipped here, read by valid_rows)
    shard: tuple[int, int] = (0, 1)  # (rank, world): multi-process training takes every world-th batch


@dataclass
class Batch:
    input_ids: Any  # torch.LongTensor [b, src]
    attention_mask: Any
    labels: Any  # [b, tgt], -100 on padding
    tokens: int  # real (non-pad) input + target tokens
    rows: int


def response_key(row: dict[str, Any]) -> str | None:
    """The field holding the teacher's answer: `extracted_llama_response` for prompt-prefixed rows,
    else the one `*_response` field (mixtral_response, chatgpt_response, llama2_response, ...)."""
    if isinstance(row.get("prompt"), str) and "extracted_llama_response" in row:
        return "extracted_llama_response"
    keys = [k for k in row if k.endswith("_response")]
    return keys[0] if keys else None


def pair_of(row: dict[str, Any]) -> tuple[str, str] | None:
    """(input text, target text) of a corpus row, newlines as [NL]; None when the row has no pair."""
    key = response_key(row)
    text, response = row.get("Text"), row.get(key) if key else None
    if not isinstance(text, str) or not isinstance(response, str):
        return None
    prefix = row["prompt"] if key == "extracted_llama_response" else ""
    return (prefix + text).replace("\n", NEWLINE_TOKEN), response.strip().replace("\n", NEWLINE_TOKEN)


def row_key(row: dict[str, Any]) -> str:
    return f"{row.get('ID')}:{row.get('prompt_type', '')}"


def held_out(row: dict[str, Any], fraction: float) -> bool:
    """Deterministic hold-out by hash of the row key: the same rows whatever the file order."""
    if fraction <= 0:
        return False
    digest = hashlib.sha1(row_key(row).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def read_lines(path: Path, offset: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    """(row, byte offset after it) from `offset` on; BOM, CRLF and blank lines tolerated."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise DataError(f"{path}: corpus file not found", hint="run `fsabench distill corpus` or check --corpus") from None
    with handle:
        handle.seek(offset)
        while True:
            line = handle.readline()
            if not line:
                return
            if offset == 0 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            offset = handle.tell()
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DataError(f"{path} (line at byte {offset - len(line)}): invalid JSON ({exc})",
                                hint="fix or remove that line") from None
            if isinstance(row, dict):
                yield row, offset


def encode(tokenizer, pairs: list[tuple[str, str]], cfg: StreamConfig) -> tuple[list[list[int]], list[list[int]]]:
    sources = tokenizer([p[0] for p in pairs], truncation=True, max_length=cfg.max_input_tokens)["input_ids"]
    targets = tokenizer([p[1] for p in pairs], truncation=True, max_length=cfg.max_target_tokens)["input_ids"]
    return sources, targets


def collate(sources: list[list[int]], targets: list[list[int]], pad_id: int) -> Batch:
    """Pad to the longest in the micro-batch; label padding is -100 (ignored by the loss)."""
    import torch

    src_len, tgt_len = max(map(len, sources)), max(map(len, targets))
    input_ids = torch.full((len(sources), src_len), pad_id, dtype=torch.long)
    labels = torch.full((len(sources), tgt_len), -100, dtype=torch.long)
    for i, (s, t) in enumerate(zip(sources, targets)):
        input_ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        labels[i, :len(t)] = torch.tensor(t, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for i, s in enumerate(sources):
        mask[i, :len(s)] = 1
    tokens = sum(map(len, sources)) + sum(map(len, targets))
    return Batch(input_ids, mask, labels, tokens, len(sources))


def bucketed(sources: list[list[int]], targets: list[list[int]], size: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped into micro-batches of similar length, in a shuffled order."""
    order = sorted(range(len(sources)), key=lambda i: (len(targets[i]), len(sources[i])))
    groups = [order[i:i + size] for i in range(0, len(order), size)]
    rng.shuffle(groups)
    return groups


class CorpusStream:
    """Endless micro-batches over a JSONL corpus (epoch after epoch), resumable at any Position."""

    def __init__(self, path: Path, tokenizer, cfg: StreamConfig) -> None:
        self.path, self.tokenizer, self.cfg = Path(path), tokenizer, cfg
        self.pad_id = tokenizer.pad_token_id

    def _buffer(self, offset: int) -> tuple[list[tuple[str, str]], int]:
        pairs: list[tuple[str, str]] = []
        end = offset
        for row, end in read_lines(self.path, offset):
            pair = pair_of(row)
            if pair and not held_out(row, self.cfg.valid_fraction):
                pairs.append(pair)
            if len(pairs) >= self.cfg.buffer_rows:
                break
        return pairs, end

    def batches(self, start: Position = Position()) -> Iterator[tuple[Batch, Position]]:
        """Yield (micro-batch, position after it); save that position to resume right after."""
        position = start
        rank, world = self.cfg.shard
        while True:
            pairs, end = self._buffer(position.offset)
            if not pairs:
                if position.offset == 0:
                    raise DataError(f"{self.path}: no training rows (need `Text` and a `*_response` field)",
                                    hint="check the corpus file; rows held out for validation are not trained on")
                position = Position(position.epoch + 1, 0, 0)  # end of file: next epoch
                continue
            sources, targets = encode(self.tokenizer, pairs, self.cfg)
            rng = random.Random(f"{self.cfg.seed}:{position.epoch}:{position.offset}")
            groups = bucketed(sources, targets, self.cfg.micro_batch_size, rng)
            for index in range(position.batch, len(groups)):
                after = Position(position.epoch, position.offset, index + 1)
                if index % world != rank:
                    continue
                group = groups[index]
                yield collate([sources[i] for i in group], [targets[i] for i in group], self.pad_id), after
            position = Position(position.epoch, end, 0)


def valid_pairs(path: Path, fraction: float | None, max_rows: int) -> list[tuple[str, str]]:
    """Validation pairs: every row of a held-out file (fraction None), or the corpus rows held out
    by hash (fraction > 0); at most max_rows, read from the start."""
    pairs = []
    for row, _ in read_lines(path):
        if fraction is not None and not held_out(row, fraction):
            continue
        pair = pair_of(row)
        if pair:
            pairs.append(pair)
        if len(pairs) >= max_rows:
            break
    return pairs


def valid_batches(pairs: list[tuple[str, str]], tokenizer, cfg: StreamConfig) -> list[Batch]:
    if not pairs:
        return []
    sources, targets = encode(tokenizer, pairs, cfg)
    groups = bucketed(sources, targets, cfg.micro_batch_size, random.Random(0))
    return [collate([sources[i] for i in g], [targets[i] for i in g], tokenizer.pad_token_id) for g in groups]
