"""Read raw records from a data file: a JSON array, JSON Lines, CSV (BOM and CRLF tolerated), or
`sentence####[tuple, ...]` lines (ASTE-V2, ASQP)."""

from __future__ import annotations

import ast
import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fsabench.errors import DataError
from fsabench.jsonstrict import JSONProblem, loads

FORMATS = ("json", "jsonl", "csv", "tuple_lines")
LINE_SEPARATOR = "####"
MAX_LINE_CHARS = 100_000  # bounds the literal parser's work on an untrusted line
MAX_TUPLES = 1_000


def json_lines_of(text: str) -> list[str]:
    """The lines of a line-based file: split on \\n (a \\r before it dropped) and nothing else.

    str.splitlines also splits on U+2028, U+2029, U+0085, \\x0b, \\x0c and \\x1c-\\x1e, which are legal
    raw characters inside a JSON string: a valid JSON Lines file holding one was refused."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _text(path: Path, newline: str | None = None) -> str:
    """The file as text (UTF-8, BOM allowed); `newline=""` keeps line ends as they are (CSV's own parser
    needs them: a quoted cell may hold a line break)."""
    try:
        with open(path, encoding="utf-8-sig", newline=newline) as handle:
            return handle.read()
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found",
                        hint="run `fsabench data pull`, or set --data-dir / FSABENCH_DATA_DIR") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (byte {exc.start})", hint="re-save the file as UTF-8") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a data file", hint="name the file in data.splits") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})", hint="check the path and its permissions") from None


def _json_array(path: Path) -> list[Any]:
    try:
        data = loads(_text(path))
    except JSONProblem as exc:
        raise DataError(f"{path}{f':{exc.lineno}' if exc.lineno else ''}: invalid JSON ({exc.msg})",
                        hint="fix the file or re-download it with `fsabench data pull`") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of records", hint="use format: jsonl for JSON Lines")
    return data


def _json_lines(path: Path) -> list[Any]:
    records = []
    for number, line in enumerate(json_lines_of(_text(path)), start=1):
        if not line.strip():
            continue
        try:
            records.append(loads(line))
        except JSONProblem as exc:
            raise DataError(f"{path}:{number}: invalid JSON line ({exc.msg})", hint="fix that line") from None
    return records


def _csv_rows(path: Path) -> list[Any]:
    """Rows as {column: value}. DictReader quietly keeps the last of two equal column names, fills a short
    row with None and files a long row's extra cells under the key None: each would become a wrong or
    misleading gold ('gold label None'), so each is refused with the line."""
    reader = csv.DictReader(io.StringIO(_text(path, newline=""), newline=""))  # the CSV parser sees line breaks
    try:
        header = reader.fieldnames
        if not header:
            raise DataError(f"{path}: CSV has no header row", hint="add a header naming the columns")
        twice = sorted({name for name in header if header.count(name) > 1})
        if twice:
            raise DataError(f"{path}:1: column {twice[0]!r} appears twice in the header",
                            hint="give every column its own name")
        rows = []
        for row in reader:
            if None in row or None in row.values():
                cells = len(header) + len(row.get(None) or []) - sum(v is None for v in row.values())
                raise DataError(f"{path}:{reader.line_num}: row has {cells} cells, the header {len(header)}",
                                hint="quote cells that hold commas, and give every row one cell per column")
            rows.append(row)
        return rows
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: invalid CSV ({exc})", hint="fix that line") from None


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
    for number, line in enumerate(json_lines_of(_text(path)), start=1):
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
