"""Answers in SQLite (WAL): one row per (annotator, item), committed as each answer arrives, so a
kill -9 of the server loses nothing that was already saved. Humans and LLM judges share the table
but are told apart by `kind`, so agreement among humans is never mixed with judges.

An answer, as the page, the importer and the judge send it:

    {"values": {"accuracy": ["right", "partly", null], "reasoning": "4", "hallucination": "minor"},
     "spans": {"hallucination": [{"start": 10, "end": 24, "text": "the quick refills"}]},
     "skipped": false, "flagged": false, "note": ""}

Per-target dimensions hold a list aligned with the item's targets; null is "not answered yet".
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fsabench.errors import FsabenchError
from fsabench.human.rubric import Rubric

Kind = Literal["human", "judge"]
SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
  annotator TEXT NOT NULL, item TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
  answer TEXT NOT NULL, updated REAL NOT NULL, PRIMARY KEY (annotator, item));
"""


class Span(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str = Field("", max_length=5000)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: dict[str, Union[str, None, list[Union[str, None]]]] = Field(default_factory=dict)
    spans: dict[str, list[Span]] = Field(default_factory=dict)
    skipped: bool = False
    flagged: bool = False
    note: str = Field("", max_length=2000)


def check_answer(rubric: Rubric, item: dict, raw: Any) -> tuple[Answer, str]:
    """Validate an answer against the rubric and the item; return it with its status
    (done: every question answered and every needed span marked; open; skipped)."""
    try:
        answer = Answer.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"field '{'.'.join(map(str, first['loc']))}': {first['msg']}") from None
    complete = True
    n_targets = len(item["targets"])
    for name, value in answer.values.items():
        dim = rubric.dimension(name) if name in {d.name for d in rubric.dimensions} else None
        if dim is None:
            raise ValueError(f"field 'values.{name}': not a dimension of rubric {rubric.name!r}")
        if dim.per == "target":
            if not isinstance(value, list) or len(value) != n_targets:
                raise ValueError(f"field 'values.{name}': needs a list of {n_targets} answers, one per target")
            picked = value
        else:
            if isinstance(value, list):
                raise ValueError(f"field 'values.{name}': needs one answer, not a list")
            picked = [value]
        for v in picked:
            if v is not None and dim.choice(v) is None:
                raise ValueError(f"field 'values.{name}': {v!r} is not on the scale "
                                 f"({', '.join(c.value for c in dim.scale)})")
    length = len(item["analysis"])
    for name, spans in answer.spans.items():
        if name not in {d.name for d in rubric.dimensions}:
            raise ValueError(f"field 'spans.{name}': not a dimension of rubric {rubric.name!r}")
        for span in spans:
            if not span.start < span.end <= length:
                raise ValueError(f"field 'spans.{name}': span {span.start}-{span.end} is outside the analysis "
                                 f"(0-{length})")
            span.text = item["analysis"][span.start:span.end]
        if len(spans) > 50:
            raise ValueError(f"field 'spans.{name}': more than 50 spans")
    for dim in rubric.dimensions:
        value = answer.values.get(dim.name)
        values = value if isinstance(value, list) else [value]
        if value is None or any(v is None for v in values):
            complete = False
        elif dim.span and any(v in dim.span for v in values) and not answer.spans.get(dim.name):
            complete = False
    status = "skipped" if answer.skipped else ("done" if complete else "open")
    return answer, status


@dataclass(frozen=True)
class Row:
    annotator: str
    item: str
    kind: str
    status: str
    answer: dict
    updated: float


class AnswerStore:
    """Open one per thread or request: sqlite3 connections are cheap and WAL lets readers run
    while a writer commits."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def save(self, annotator: str, item: str, kind: Kind, status: str, answer: Answer | dict) -> None:
        payload = answer.model_dump(mode="json") if isinstance(answer, Answer) else answer
        self.db.execute("INSERT INTO answers VALUES (?,?,?,?,?,?) ON CONFLICT(annotator, item) DO UPDATE SET "
                        "kind=excluded.kind, status=excluded.status, answer=excluded.answer, updated=excluded.updated",
                        (annotator, item, kind, status, json.dumps(payload, ensure_ascii=False), time.time()))

    def save_many(self, rows: list[tuple[str, str, Kind, str, Answer | dict]]) -> None:
        """Every row or none: one transaction (an import refused half-way stores nothing)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                self.save(*row)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def rows(self, annotator: str | None = None, kind: str | None = None) -> list[Row]:
        sql, args = "SELECT annotator, item, kind, status, answer, updated FROM answers", []
        where = [(c, v) for c, v in (("annotator", annotator), ("kind", kind)) if v is not None]
        if where:
            sql += " WHERE " + " AND ".join(f"{c}=?" for c, _ in where)
            args = [v for _, v in where]
        rows = self.db.execute(sql + " ORDER BY annotator, item", args).fetchall()
        return [Row(a, i, k, s, self._answer(a, i, k, s, ans), u) for a, i, k, s, ans, u in rows]

    def _answer(self, annotator: str, item: str, kind: str, status: str, text: str) -> dict:
        """A stored row, checked: statistics never read a row edited into another shape."""
        try:
            if kind not in ("human", "judge") or status not in ("done", "open", "skipped"):
                raise ValueError(f"kind {kind!r} / status {status!r}")
            return Answer.model_validate(json.loads(text)).model_dump(mode="json")
        except (ValueError, TypeError, ValidationError) as exc:
            reason = str(exc).splitlines()[0][:120]
            raise FsabenchError(f"{self.path}: the answer of {annotator!r} on item {item!r} is damaged ({reason})",
                                hint="restore answers.sqlite from a backup, or delete that row") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "AnswerStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def store_of(study) -> AnswerStore:
    from fsabench.human.study import ANSWERS_FILE

    try:
        return AnswerStore(study.folder / ANSWERS_FILE)
    except sqlite3.DatabaseError as exc:
        raise FsabenchError(f"{study.folder / ANSWERS_FILE}: cannot open the answers database ({exc})",
                            hint="the file is damaged; restore it from a backup") from None


def read_rows(study, kind: str | None = None) -> list[Row]:
    with closing(store_of(study)) as store:
        return store.rows(kind=kind)
