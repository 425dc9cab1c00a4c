"""Corpus rows -> tokenized micro-batches, streamed from disk in a fresh global order every epoch.

As in the paper's code (a DataLoader with shuffle=True over the whole corpus), every epoch visits
the rows in a new permutation seeded by (seed, epoch). Memory stays flat: only the byte offset of
each row is held (8 bytes a row), and a window of `buffer_rows` rows is read at a time by seeking.
`batching="random"` cuts the window into micro-batches in permutation order (the seed's random
batches); `batching="bucket"` sorts the window by length first and shuffles the micro-batches (less
padding: a speed option; pretraining then weights the loss by tokens so it stays equivalent). A
`Position` (epoch, index of the window's first row in that epoch's order, micro-batches already
taken) pins the stream exactly: resuming rebuilds the same permutation and window and skips the
batches already used.

Rows follow the seed corpus format (HITSZ-HLT/FSA-Distillation): `Text` is the review, the
teacher's answer is the one `*_response` field; rows that carry a `prompt` text (the released
prompt-prefixed variant) are read as `prompt + Text` -> `extracted_llama_response`. Newlines
become the `[NL]` token on both sides, as the paper's data module does.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fsabench.errors import DataError
from fsabench.io import iter_jsonl, parse_json

from fsabench.formats import NEWLINE_TOKEN  # noqa: E402  (defined once)


TOKEN_CACHE_ROWS = 100_000  # corpora up to this size keep their token ids (about 1 KB a row) after epoch 1


@dataclass(frozen=True)
class Position:
    epoch: int = 0
    offset: int = 0  # index, in the epoch's row order, of the current window's first row
    batch: int = 0  # micro-batches of that window already yielded

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
    shuffle: bool = True  # a new permutation of the whole corpus every epoch (the seed's DataLoader)
    batching: str = "random"  # random (the seed's) | bucket (sorted by length within a window)


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
    """Deterministic hold-out by hash of the review ID: the same rows whatever the file order, and a
    review's analysis and rewrite (`assign: both`) on the same side, so validation never scores a
    review the student was trained on under the other prompt."""
    if fraction <= 0:
        return False
    digest = hashlib.sha1(str(row.get("ID")).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def scan_lines(path: Path, offset: int = 0) -> Iterator[tuple[dict[str, Any], int, int]]:
    """(row, byte offset of its line, byte offset after it) from `offset` on; BOM, CRLF and blank
    lines tolerated, a line that is not an object skipped (io.iter_jsonl reads them strictly)."""
    for line in iter_jsonl(path, "corpus file", error=DataError, start=offset, hint="fix or remove that line",
                           missing="run `fsabench distill corpus` or check --corpus"):
        if isinstance(line.value, dict):
            yield line.value, line.begin, line.end


def read_lines(path: Path, offset: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    """(row, byte offset after it) from `offset` on."""
    for row, _, end in scan_lines(path, offset):
        yield row, end


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
        input_ids[i, :len(s)] = torch.as_tensor(s)
        labels[i, :len(t)] = torch.as_tensor(t)
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


def random_groups(count: int, size: int) -> list[list[int]]:
    """Indices in their (already shuffled) order, cut into micro-batches: the seed's random batches."""
    return [list(range(i, min(i + size, count))) for i in range(0, count, size)]


class CorpusStream:
    """Endless micro-batches over a JSONL corpus (epoch after epoch), resumable at any Position.

    The file is indexed once (the byte offset of every training row, 8 bytes a row: 16 MB for the
    paper's 2M rows; the rows themselves stay on disk). Each epoch visits the rows in a fresh
    permutation seeded by (seed, epoch), as the seed's DataLoader(shuffle=True) does over the whole
    corpus, reading a window of `buffer_rows` rows at a time by seeking to their offsets. A window is
    cut into micro-batches in permutation order (`batching="random"`, the paper's) or sorted by length
    first and the micro-batches shuffled (`batching="bucket"`, less padding)."""

    def __init__(self, path: Path, tokenizer, cfg: StreamConfig) -> None:
        self.path, self.tokenizer, self.cfg = Path(path), tokenizer, cfg
        self.pad_id = tokenizer.pad_token_id
        self._offsets = None
        self._order: tuple[int, Any] | None = None  # (epoch, row order of that epoch)
        self._tokens: dict[int, tuple[Any, Any]] = {}  # row index -> token ids (small corpora only)

    @property
    def offsets(self):
        """Byte offsets of the rows trained on (a pair, not held out), in file order."""
        if self._offsets is None:
            import numpy as np

            found = [start for row, start, _ in scan_lines(self.path)
                     if pair_of(row) and not held_out(row, self.cfg.valid_fraction)]
            if not found:
                raise DataError(f"{self.path}: no training rows (need `Text` and a `*_response` field)",
                                hint="check the corpus file; rows held out for validation are not trained on")
            self._offsets = np.asarray(found, dtype=np.int64)
        return self._offsets

    def order(self, epoch: int):
        """Row indices of `epoch` in the order they are trained on (a permutation when shuffling)."""
        import numpy as np

        if self._order is None or self._order[0] != epoch:
            count = len(self.offsets)
            rows = np.random.default_rng([self.cfg.seed, epoch]).permutation(count) if self.cfg.shuffle \
                else np.arange(count)
            self._order = (epoch, rows)
        return self._order[1]

    def _read(self, rows) -> list[tuple[str, str]]:
        pairs = []
        with self.path.open("rb") as handle:
            for index in rows:
                handle.seek(int(self.offsets[index]))
                line = handle.readline()
                if line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
                pairs.append(pair_of(parse_json(line, f"{self.path} (line at byte {int(self.offsets[index])})",
                                                error=DataError, line=True)))
        return pairs

    def _encode_rows(self, rows) -> tuple[list, list]:
        """Token ids (sources, targets) of these row indices. A corpus of at most TOKEN_CACHE_ROWS rows
        keeps each row's ids (int32 arrays) once tokenized, for later epochs; a larger one is read and
        tokenized as it goes."""
        if len(self.offsets) > TOKEN_CACHE_ROWS:
            return encode(self.tokenizer, self._read(rows), self.cfg)
        import numpy as np

        missing = [int(i) for i in rows if int(i) not in self._tokens]
        if missing:
            sources, targets = encode(self.tokenizer, self._read(missing), self.cfg)
            for index, source, target in zip(missing, sources, targets):
                self._tokens[index] = (np.asarray(source, dtype=np.int32), np.asarray(target, dtype=np.int32))
        return [self._tokens[int(i)][0] for i in rows], [self._tokens[int(i)][1] for i in rows]

    def batches(self, start: Position = Position()) -> Iterator[tuple[Batch, Position]]:
        """Yield (micro-batch, position after it); save that position to resume right after."""
        position = start
        rank, world = self.cfg.shard
        while True:
            if position.offset >= len(self.offsets):
                position = Position(position.epoch + 1, 0, 0)  # end of the epoch: a new permutation
                continue
            rows = self.order(position.epoch)[position.offset:position.offset + self.cfg.buffer_rows]
            if self.cfg.batching == "bucket":  # sorted by length: the whole window is tokenized first
                sources, targets = self._encode_rows(rows)
                rng = random.Random(f"{self.cfg.seed}:{position.epoch}:{position.offset}")
                groups = bucketed(sources, targets, self.cfg.micro_batch_size, rng)
            else:  # random batches: each micro-batch is tokenized when it is needed
                sources = targets = None
                groups = random_groups(len(rows), self.cfg.micro_batch_size)
            for index in range(position.batch, len(groups)):
                after = Position(position.epoch, position.offset, index + 1)
                if index % world != rank:
                    continue
                group = groups[index]
                if sources is None:
                    yield collate(*self._encode_rows(rows[group[0]:group[-1] + 1]), self.pad_id), after
                else:
                    yield collate([sources[i] for i in group], [targets[i] for i in group], self.pad_id), after
            position = Position(position.epoch, position.offset + len(rows), 0)


def prefetched(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """The same items in the same order, made up to `depth` ahead by a background thread: reading,
    tokenizing and padding the next micro-batches overlap the training step (the tokenizer and torch
    release the GIL). The stream uses no global random state, so the training RNG is untouched. An
    error in the thread is raised here, at the item it stopped at; closing this generator stops the thread."""
    import queue
    import threading

    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not hand(("item", item)):
                    return
            hand(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            hand(("error", exc))

    thread = threading.Thread(target=work, name="fsabench-batches", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = ready.get()
            if kind == "error":
                raise item
            if kind == "end":
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=60)  # it ends within 0.1 s of finishing the item it is making (a daemon thread
        # still inside torch when the interpreter exits aborts the process)


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
