"""Which test sentences occur in a corpus? Word n-gram overlap, streamed over corpora larger than memory.

The test sentences (every test file of a task, the hard set included) are cut into word n-grams
(lower-cased `\\w+` words, default n = 13, as GPT-3's contamination study); a sentence shorter than n
words is one gram of all its words, and a sentence shorter than `min_words` words is not checked (a
short sentence like "The food was great." occurs in any review dump: that is not evidence of a leak).
Only the test side is held in memory (a dict from gram to the sentences holding it); the corpus is read
one record at a time, in batches whose word windows are hashed with numpy and checked exactly.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fsabench.errors import FsabenchError
from fsabench.io import parse_json

WORD = re.compile(r"\w+")
MAX_JSON_ARRAY_BYTES = 256 * 1024 * 1024  # a whole-file JSON array is read at once; larger ones must be JSONL
MAX_RECORD_CHARS = 10_000_000  # one corpus line longer than this is cut (bounded data, not a document)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


@dataclass(frozen=True)
class TestSentence:
    task: str
    id: str
    subsets: tuple[str, ...]
    text: str


PRIME = np.uint64(1_000_003)
CHUNK_WORDS = 1_000_000  # corpus words hashed per numpy batch (bounds memory: ~30 MB per batch)


@dataclass
class GramIndex:
    """The test side: gram (a tuple of words) -> indexes of the test sentences holding it, plus, per gram
    length, the sorted 64-bit polynomial hashes of those grams over word ids (test vocabulary only: a corpus
    word outside it gets id 0, so a window holding one cannot match)."""

    ngram: int
    table: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    vocab: dict[str, int] = field(default_factory=dict)
    hashes: dict[int, np.ndarray] = field(default_factory=dict)

    def add(self, index: int, sentence_words: list[str]) -> None:
        n = self.ngram if len(sentence_words) >= self.ngram else len(sentence_words)
        for word in sentence_words:
            self.vocab.setdefault(word, len(self.vocab) + 1)
        for i in range(len(sentence_words) - n + 1):
            self.table.setdefault(tuple(sentence_words[i:i + n]), []).append(index)

    def finalize(self) -> None:
        by_length: dict[int, list[np.ndarray]] = {}
        for gram in self.table:
            by_length.setdefault(len(gram), []).append(np.array([self.vocab[w] for w in gram], dtype=np.uint64))
        for n, rows in by_length.items():
            self.hashes[n] = np.unique(window_hashes(np.stack(rows).reshape(-1), n)[::n])

    def ids(self, doc_words: list[str]) -> list[int]:
        get = self.vocab.get
        return [get(w, 0) for w in doc_words]

    def matches(self, words_batch: list[str], ids_batch: np.ndarray) -> list[tuple[int, int]]:
        """(position, sentence index) of every test gram occurring in the batch (hash hits checked exactly)."""
        found = []
        for n, table_hashes in self.hashes.items():
            if len(ids_batch) < n:
                continue
            h = window_hashes(ids_batch, n)
            where = np.minimum(np.searchsorted(table_hashes, h), len(table_hashes) - 1)
            hit = np.flatnonzero(table_hashes[where] == h)
            for pos in hit.tolist():
                for sentence in self.table.get(tuple(words_batch[pos:pos + n]), ()):
                    found.append((pos, sentence))
        return found


def window_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """h[i] = sum_k ids[i + k] * PRIME**(n - 1 - k) mod 2**64, for every window of n ids (numpy, wrapping)."""
    count = len(ids) - n + 1
    h = np.zeros(count, dtype=np.uint64)
    for k in range(n):
        h = h * PRIME + ids[k:k + count]
    return h


def build_index(sentences: Sequence[TestSentence], ngram: int, min_words: int) -> tuple[GramIndex, list[bool]]:
    index = GramIndex(ngram)
    checked = []
    for i, sentence in enumerate(sentences):
        ws = words(sentence.text)
        checked.append(len(ws) >= min_words and bool(ws))
        if checked[-1]:
            index.add(i, ws)
    index.finalize()
    return index, checked


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="replace")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


def corpus_format(path: Path) -> str:
    """jsonl | json-array | csv | tsv | text, from the suffix (before .gz) and, for .json, the first character."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    if suffix in (".txt", ".text"):
        return "text"
    if suffix == ".json":
        with _open_text(path) as handle:
            head = handle.read(4096).lstrip()
        return "json-array" if head.startswith("[") else "jsonl"
    return "jsonl"


def _field_text(row: dict, fields: Sequence[str]) -> str | None:
    parts = [row[f] for f in fields if isinstance(row.get(f), str)]
    return "\n".join(parts) if parts else None


def stream_records(path: Path, fields: Sequence[str]) -> Iterator[tuple[int, str | None, list[str]]]:
    """(line or record number, the fields' text or None when the record has none, the record's keys)."""
    if not path.is_file():
        raise FsabenchError(f"--corpus {path}: file not found", hint="pass a JSONL, JSON, CSV or text file")
    kind = corpus_format(path)
    if kind == "json-array":
        if path.stat().st_size > MAX_JSON_ARRAY_BYTES:
            raise FsabenchError(f"--corpus {path}: a JSON array larger than {MAX_JSON_ARRAY_BYTES >> 20} MB",
                                hint="write it as JSON Lines (one object per line), which is streamed")
        with _open_text(path) as handle:
            rows = parse_json(handle.read(), f"--corpus {path}", hint="pass JSON Lines or a JSON array")
        if not isinstance(rows, list):
            raise FsabenchError(f"--corpus {path}: a .json corpus starting with '[' must be one JSON array",
                                hint="pass JSON Lines or a JSON array")
        for number, row in enumerate(rows, start=1):
            row = row if isinstance(row, dict) else {}
            yield number, _field_text(row, fields), list(row)
        return
    with _open_text(path) as handle:
        if kind in ("csv", "tsv"):
            csv.field_size_limit(MAX_RECORD_CHARS)
            reader = csv.DictReader(handle, delimiter="," if kind == "csv" else "\t")
            for number, row in enumerate(reader, start=2):
                yield number, _field_text(row, fields), list(reader.fieldnames or [])
            return
        for number, line in enumerate(handle, start=1):
            line = line[:MAX_RECORD_CHARS]
            if kind == "text":
                yield number, line, ["text"]
                continue
            if not line.strip():
                continue
            row = parse_json(line, f"--corpus {path}:{number}", line=True,
                             hint="one JSON object per line (JSONL), or a .csv/.txt file")
            row = row if isinstance(row, dict) else {}
            yield number, _field_text(row, fields), list(row)


@dataclass(frozen=True)
class Overlap:
    """What `scan` found: per sentence, the first corpus record holding one of its grams."""

    corpus: str
    fields: tuple[str, ...]
    ngram: int
    min_words: int
    records: int
    sentences: list[TestSentence]
    checked: list[bool]
    first_hit: dict[int, int]  # sentence index -> record number

    def by_task(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for i, sentence in enumerate(self.sentences):
            task = out.setdefault(sentence.task, {"subsets": {}})
            for subset in sentence.subsets:
                s = task["subsets"].setdefault(subset, {"n": 0, "checked": 0, "overlapping": 0, "ids": []})
                s["n"] += 1
                s["checked"] += self.checked[i]
                if i in self.first_hit:
                    s["overlapping"] += 1
                    s["ids"].append(sentence.id)
        for task in out.values():
            for s in task["subsets"].values():
                s["percent"] = round(100.0 * s["overlapping"] / s["n"], 2) if s["n"] else None
        return out

    def to_dict(self) -> dict:
        return {"corpus": self.corpus, "fields": list(self.fields), "ngram": self.ngram, "min_words": self.min_words,
                "records": self.records, "tasks": self.by_task(),
                "method": f"word {self.ngram}-grams (lower-cased \\w+ words) of every test sentence; a sentence shorter "
                          f"than {self.ngram} words matches as a whole; sentences under {self.min_words} words unchecked"}


def scan(path: Path, fields: Sequence[str], sentences: Sequence[TestSentence], ngram: int = 13,
         min_words: int = 8) -> Overlap:
    """Stream the corpus once; every test sentence sharing a gram with a record is reported with that record.
    Records are batched (about CHUNK_WORDS words) and hashed with numpy; a 0 id between records keeps a
    window from spanning two of them."""
    index, checked = build_index(sentences, ngram, min_words)
    first_hit: dict[int, int] = {}
    records = with_text = 0
    keys_seen: list[str] = []
    batch_words: list[str] = []
    batch_ids: list[int] = []
    starts: list[int] = []
    numbers: list[int] = []

    def flush() -> None:
        if not batch_ids:
            return
        for pos, sentence in index.matches(batch_words, np.asarray(batch_ids, dtype=np.uint64)):
            number = numbers[bisect.bisect_right(starts, pos) - 1]
            if sentence not in first_hit or number < first_hit[sentence]:
                first_hit[sentence] = number
        batch_words.clear(), batch_ids.clear(), starts.clear(), numbers.clear()

    for number, text, keys in stream_records(path, fields):
        records += 1
        if text is None:
            keys_seen = keys_seen or keys
            continue
        with_text += 1
        ws = words(text)
        starts.append(len(batch_ids))
        numbers.append(number)
        batch_words.extend(ws)
        batch_words.append("")
        batch_ids.extend(index.ids(ws))
        batch_ids.append(0)
        if len(batch_ids) >= CHUNK_WORDS:
            flush()
    flush()
    if records and not with_text:
        raise FsabenchError(f"--corpus {path}: no record has a text field {', '.join(map(repr, fields))}",
                            hint=f"pass --field with one of its fields: {', '.join(keys_seen[:12]) or '(none)'}")
    return Overlap(str(path), tuple(fields), ngram, min_words, records, list(sentences), checked, first_hit)


def task_sentences(specs, data_root: Path) -> list[TestSentence]:
    """Every test example's input of every task (test and hard files, as the task's test split lists them)."""
    from fsabench.examples import load_split

    out = []
    for spec in specs:
        for example in load_split(spec, data_root, "test").examples:
            out.append(TestSentence(spec.name, example.id, tuple(example.subsets), example.input))
    return out


def overlapping_ids(contamination: dict, task: str) -> set[str]:
    """The ids of a task's overlapping sentences, from a recorded `meta.contamination` payload."""
    subsets = (contamination.get("tasks") or {}).get(task, {}).get("subsets", {})
    return set((subsets.get("all") or {}).get("ids", []))
