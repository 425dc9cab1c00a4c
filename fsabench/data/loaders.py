"""Read raw records from a data file: a JSON array, JSON Lines, CSV (BOM and CRLF tolerated), or
`sentence####[tuple, ...]` lines (ASTE-V2, ASQP)."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fsabench.errors import DataError
from fsabench.io import iter_jsonl, parse_json, read_csv, read_text

FORMATS = ("json", "jsonl", "csv", "tuple_lines")
LINE_SEPARATOR = "####"
MAX_LINE_CHARS = 100_000  # bounds the literal parser's work on an untrusted line
MAX_TUPLES = 1_000


PULL = "run `fsabench data pull`, or set --data-dir / FSABENCH_DATA_DIR"


def _text(path: Path) -> str:
    return read_text(path, "data file", error=DataError, missing=PULL)


def _json_array(path: Path) -> list[Any]:
    data = parse_json(_text(path), str(path), error=DataError,
                      hint="fix the file or re-download it with `fsabench data pull`")
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of records", hint="use format: jsonl for JSON Lines")
    return data


def _json_lines(path: Path) -> list[Any]:
    return [line.value for line in iter_jsonl(path, "data file", error=DataError, missing=PULL, hint="fix that line")]


def _csv_rows(path: Path) -> list[Any]:
    """Rows as {column: value}; a repeated column name, a short or a long row is refused with its line (io.read_csv)."""
    return [row for _, row in read_csv(path, "data file", error=DataError, missing=PULL)]


def _literal(text: str, where: str) -> Any:
    """A Python literal (lists, tuples, strings, numbers) read with ast.literal_eval, never eval:
    no names, calls or operators can run. Line length is capped before parsing."""
    if len(text) > MAX_LINE_CHARS:
        raise DataError(f"{where}: line longer than {MAX_LINE_CHARS} characters", hint="split or fix that line")
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        reason = type(exc).__name__ if not str(exc) else str(exc).splitlines()[0]
        raise DataError(f"{where}: the part after '{LINE_SEPARATOR}' is not a literal list ({reason})",
                        hint="write it as [(...), ...] or [[...], ...] of quoted strings and integers") from None


def _element(value: Any, where: str, name: str) -> Any:
    """A tuple element: a string, or a list of token indices (non-negative integers)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and value and all(type(v) is int and v >= 0 for v in value):
        return list(value)
    raise DataError(f"{where}: element '{name}' is {value!r}",
                    hint="each element is a quoted string or a non-empty list of token indices")


def tuple_lines(path: Path, fields: Sequence[str], input_field: str = "sentence") -> list[dict[str, Any]]:
    """`sentence####[(e1, e2, ...), ...]` per line -> {input_field, 'aspects': [{field: element}], 'line'}.

    The format of ASTE-Data-V2 (elements: token-index lists and 'POS'/'NEG'/'NEU') and of ASQP
    (elements: strings, 'NULL' for an implicit aspect). Blank lines are skipped; any other malformed
    line is refused with file:line."""
    if not fields:
        raise DataError(f"{path}: format tuple_lines needs data.tuple_fields", hint="e.g. [aspect, opinion, polarity]")
    records = []
    for number, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        sentence, sep, rest = line.partition(LINE_SEPARATOR)
        if not sep or not sentence.strip():
            raise DataError(f"{where}: expected 'sentence{LINE_SEPARATOR}[...]'", hint="fix that line")
        value = _literal(rest, where)
        if not isinstance(value, list) or len(value) > MAX_TUPLES:
            raise DataError(f"{where}: the part after '{LINE_SEPARATOR}' must be a list (at most {MAX_TUPLES} tuples)",
                            hint="write it as [(...), ...]")
        aspects = []
        for item in value:
            if not isinstance(item, (list, tuple)) or len(item) != len(fields):
                raise DataError(f"{where}: tuple {item!r} does not have {len(fields)} elements ({', '.join(fields)})",
                                hint="fix that line, or data.tuple_fields in the task YAML")
            aspects.append({name: _element(v, where, name) for name, v in zip(fields, item)})
        records.append({input_field: sentence, "aspects": aspects, "line": number})
    return records


def load_records(path: Path, fmt: str, fields: Sequence[str] = (),
                 input_field: str = "sentence") -> list[dict[str, Any]]:
    """Every record of a file, each checked to be an object (tuple_lines: named by `fields`)."""
    if fmt == "tuple_lines":
        return tuple_lines(path, fields, input_field)
    reader = {"json": _json_array, "jsonl": _json_lines, "csv": _csv_rows}.get(fmt)
    if reader is None:
        raise DataError(f"{path}: unknown data format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    records = reader(path)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"{path}: record {index} is not an object", hint="each record must be a JSON object")
    return records
