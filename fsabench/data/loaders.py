"""Read raw records from a data file: a JSON array, JSON Lines or CSV (BOM and CRLF tolerated)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from fsabench.errors import DataError

FORMATS = ("json", "jsonl", "csv")


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found",
                        hint="run `fsabench data pull`, or set --data-dir / FSABENCH_DATA_DIR") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (byte {exc.start})", hint="re-save the file as UTF-8") from None


def _json_array(path: Path) -> list[Any]:
    try:
        data = json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})",
                        hint="fix the file or re-download it with `fsabench data pull`") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of records", hint="use format: jsonl for JSON Lines")
    return data


def _json_lines(path: Path) -> list[Any]:
    records = []
    for number, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: invalid JSON line ({exc.msg})", hint="fix that line") from None
    return records


def _csv_rows(path: Path) -> list[Any]:
    reader = csv.DictReader(_text(path).splitlines())
    if not reader.fieldnames:
        raise DataError(f"{path}: CSV has no header row", hint="add a header naming the columns")
    return list(reader)


def load_records(path: Path, fmt: str) -> list[dict[str, Any]]:
    """Every record of a file, each checked to be an object."""
    reader = {"json": _json_array, "jsonl": _json_lines, "csv": _csv_rows}.get(fmt)
    if reader is None:
        raise DataError(f"{path}: unknown data format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    records = reader(path)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"{path}: record {index} is not an object", hint="each record must be a JSON object")
    return records
