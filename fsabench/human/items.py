"""Items to rate: (review, analysis, model) read from teacher corpus files, `distill corpus` folders
or RunResult files, each with the opinion targets its per-target questions ask about.

Formats, detected from the content:
- JSON Lines in the seed corpus shape (`ID`, `Text`, `<teacher>_response`; the released 500-line
  Mixtral file imports as it is, BOM and all). Only analyses are items: a rewrite has no targets.
- a `distill corpus` output folder (its corpus.jsonl and valid.jsonl, else responses.jsonl).
- a RunResult JSON file (`fsabench run -o`): each example's input and the raw text the model wrote.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fsabench.errors import DataError
from fsabench.io import read_json

MAX_TARGETS = 12  # per-target questions per item: bounds the work one long analysis causes
MAX_TEXT = 20_000  # characters of review or analysis kept (longer text is refused, not cut)
MAX_JSON_BYTES = 200_000_000

# Greedy captures stripped afterwards, blanks as [ \t]: a lazy `(.+?)\s*$` backtracks quadratically on a
# long run of spaces, and one model output could hold the annotation server for seconds.
_TARGET = re.compile(r"^[ \t]*Opinion Target(?:[ \t]*\d+)?[ \t]*:([^\n]*)", re.I | re.M)
_LINE = re.compile(r"^\s*(Opinion Target(?:\s*\d+)?|Aspect|Sentiment)[ \t]*:(.*)", re.I)


@dataclass(frozen=True)
class Item:
    id: str  # opaque and stable: a hash of where the item came from (reveals no model name)
    model: str  # who wrote the analysis: hidden from raters, kept in the blinding key
    source: str  # file and row, for provenance (also only in the key)
    review: str
    analysis: str
    targets: tuple[str, ...]  # what per-target questions ask about, e.g. 'pasta / Temperature: Negative'

    def public(self) -> dict:
        """What a rater sees: no model, no source."""
        return {"id": self.id, "review": self.review, "analysis": self.analysis, "targets": list(self.targets)}


def item_id(*parts: str) -> str:
    return "i" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]


def _strip(value: str) -> str:
    return value.strip().strip('"“”').strip()


def analysis_targets(text: str) -> tuple[str, ...]:
    """Opinion targets of a teacher-style analysis: one per `Aspect:` line under its `Opinion Target`
    (with the sentiment given), or one per `Opinion Target` when no aspects are listed."""
    targets: list[str] = []
    current, aspect = None, None
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        kind, value = match.group(1).lower(), _strip(match.group(2).strip())
        if kind.startswith("opinion"):
            current, aspect = value, None
        elif kind == "aspect":
            aspect = value
            targets.append(f"{current or '?'} / {aspect}")
        elif kind == "sentiment" and targets and aspect is not None and ":" not in targets[-1]:
            targets[-1] = f"{targets[-1]}: {value}"
    if not targets:
        targets = [_strip(t) for t in _TARGET.findall(text) if t.strip()]
    return tuple(t[:200] for t in targets[:MAX_TARGETS]) or ("the analysis as a whole",)


def _check_text(value: object, where: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: field '{field}' is missing or empty", hint="every item needs a review and an analysis")
    if len(value) > MAX_TEXT:
        raise DataError(f"{where}: field '{field}' has {len(value)} characters (limit {MAX_TEXT})",
                        hint="drop this row; an analysis that long cannot be rated fairly")
    return value


def corpus_items(path: Path) -> Iterator[Item]:
    """Analyses (not rewrites) of a seed-format JSON Lines file."""
    from fsabench.distill.corpus import normalize
    from fsabench.distill.data import read_lines, response_key

    for number, (row, _) in enumerate(read_lines(path), start=1):
        where = f"{path} row {number}"
        row = normalize(row, where)
        if row["prompt_type"] != "analysis":
            continue
        key = response_key(row)
        teacher = key.removesuffix("_response").removeprefix("extracted_")
        analysis = _check_text(row[key], where, key).strip()
        review = _check_text(row["Text"], where, "Text")
        yield Item(item_id("corpus", teacher, str(row.get("ID")), review), f"teacher:{teacher}",
                   f"{path.name}#{row.get('ID')}", review, analysis, analysis_targets(analysis))


def run_items(path: Path, payload: dict) -> Iterator[Item]:
    """One item per example of a RunResult whose model wrote something."""
    from fsabench.results import RunResult

    try:
        result = RunResult.model_validate(payload)
    except Exception as exc:  # pydantic ValidationError: name the file, keep one line
        raise DataError(f"{path}: not a valid RunResult ({str(exc).splitlines()[0]})",
                        hint="pass files written by `fsabench run -o`") from None
    for record in result.examples:
        if not record.output or not record.output.strip():
            continue
        where = f"{path} example {record.id}"
        output = _check_text(record.output, where, "output").strip()
        targets = tuple(" | ".join(t) for t in record.prediction[:MAX_TARGETS]) or analysis_targets(output)
        yield Item(item_id("run", result.model.name, result.task.name, str(result.seed), record.id), result.model.name,
                   f"{path.name}#{record.id}", _check_text(record.input, where, "input"), output, targets)


def file_items(path: Path) -> Iterator[Item]:
    if path.is_dir():
        built = [path / n for n in ("corpus.jsonl", "valid.jsonl") if (path / n).is_file()]
        for part in built or ([path / "responses.jsonl"] if (path / "responses.jsonl").is_file() else []):
            yield from corpus_items(part)
        if built or (path / "responses.jsonl").is_file():
            return
        runs = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not runs:
            raise DataError(f"{path}: no corpus.jsonl, responses.jsonl or RunResult *.json inside",
                            hint="pass teacher corpus files, `distill corpus` folders or `fsabench run -o` folders")
        for run in runs:
            yield from file_items(run)
        return
    if not path.is_file():
        raise DataError(f"{path}: items file not found", hint="check the --items path")
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    if path.suffix == ".json" and head.startswith(b"{") and b'"schema_version"' in head:
        yield from run_items(path, read_json(path, "RunResult", error=DataError, max_bytes=MAX_JSON_BYTES))
    else:
        yield from corpus_items(path)


def load_items(paths: Sequence[Path]) -> list[Item]:
    """Every item of every file, first occurrence of an id kept, in a stable order (sorted by id)."""
    seen: dict[str, Item] = {}
    for path in paths:
        for item in file_items(Path(path)):
            seen.setdefault(item.id, item)
    if not seen:
        raise DataError(f"{', '.join(map(str, paths))}: no analyses to rate",
                        hint="teacher files need analyses (responses opening with 'Opinion Target'), runs need outputs")
    return [seen[k] for k in sorted(seen)]
