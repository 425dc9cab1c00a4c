"""Reviews for the teacher, streamed from JSON Lines or CSV with a field mapping.

Each review comes out in the seed corpus shape: {"ID", "Text", "Overall"}. The mapping names the
source columns: `{"text": "reviewText", "id": "asin", "overall": "stars"}`; the defaults are the
seed corpus names (Text, ID, Overall), so the teacher file itself reads as a review file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsabench.errors import DataError
from fsabench.io import iter_csv, iter_jsonl

FIELDS = {"id": "ID", "text": "Text", "overall": "Overall"}


@dataclass
class Skipped:
    """Reviews passed over because their text field is missing or not text (raw Amazon and Yelp dumps
    have such records): counted, with the first few places, instead of stopping a 2M-review run."""

    missing_text: int = 0
    where: list[str] = field(default_factory=list)

    def add(self, place: str) -> None:
        self.missing_text += 1
        if len(self.where) < 5:
            self.where.append(place)


def parse_fields(text: str | None) -> dict[str, str]:
    """`text=reviewText,id=asin` -> {"text": "reviewText", "id": "asin"} (unknown keys refused)."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in FIELDS or not value.strip():
            raise DataError(f"--fields: bad entry {part.strip()!r}",
                            hint="write KEY=COLUMN pairs with KEY one of id, text, overall, e.g. text=reviewText")
        mapping[key] = value.strip()
    return mapping


def _format_of(path: Path, fmt: str | None) -> str:
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise DataError(f"{path}: unknown reviews format {fmt!r}", hint="use jsonl or csv")
    return fmt


def _records(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    missing = "check --reviews"
    if fmt == "csv":
        yield from iter_csv(path, "reviews file", error=DataError, missing=missing)
        return
    for line in iter_jsonl(path, "reviews file", error=DataError, missing=missing,
                           hint="reviews must be JSON Lines (one object per line) or CSV"):
        if isinstance(line.value, dict):
            yield line.number, line.value


def iter_reviews(path: str | Path, fields: Mapping[str, str] | None = None, fmt: str | None = None,
                 limit: int | None = None, skipped: Skipped | None = None) -> Iterator[dict[str, Any]]:
    """Reviews as {"ID", "Text", "Overall"}; a missing id becomes the line number. A record without
    text is skipped and counted in `skipped`; a file where no record has the text field is an error
    (the mapping is wrong, not the data)."""
    path = Path(path)
    names = {**FIELDS, **(fields or {})}
    count = seen = 0
    skipped = skipped if skipped is not None else Skipped()
    for number, record in _records(path, _format_of(path, fmt)):
        if limit is not None and count >= limit:
            return
        seen += 1
        text = record.get(names["text"])
        if not isinstance(text, str):
            skipped.add(f"{path}:{number}")
            if seen >= 1000 and not count:
                break
            continue
        if not text.strip():
            continue
        review_id = record.get(names["id"])
        overall = record.get(names["overall"])
        yield {"ID": review_id if review_id not in (None, "") else f"{path.stem}:{number}", "Text": text,
               "Overall": _number(overall)}
        count += 1
    if seen and not count and skipped.missing_text:
        raise DataError(f"{path}: no review has a text field {names['text']!r} (first {seen} records checked)",
                        hint="map the text column with --fields text=COLUMN (recipe: reviews[].fields.text)")


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value or None
    return value
