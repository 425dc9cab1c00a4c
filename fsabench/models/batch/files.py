"""Offline engines speak the OpenAI batch file format: `--batch-file` writes the input for the requests
the cache lacks (what `vllm run-batch -i` reads), `--batch-results` imports an output file (what
`vllm run-batch -o` writes) into the cache. custom_id is the request's cache key, so results match by
key, never by line order, and a result for a request this run does not ask is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fsabench.errors import FsabenchError
from fsabench.models.batch.client import MAX_LINE_BYTES, parse_line

MAX_RESULTS_BYTES = 4 * 1024 ** 3


class InputWriter:
    """Accumulates input lines over a run's tasks and rewrites the file atomically after each task."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lines: dict[str, str] = {}

    def add(self, lines: dict[str, str]) -> int:
        for key, line in lines.items():
            self.lines.setdefault(key, line)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        tmp.write_text("".join(line + "\n" for line in self.lines.values()), encoding="utf-8")
        os.replace(tmp, self.path)
        return len(self.lines)


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """custom_id -> output line of an OpenAI-format batch output file; a later line for the same id wins
    only over an earlier failure."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FsabenchError(f"--batch-results {path}: cannot read it ({exc.strerror})",
                            hint="pass the output file of the batch run (JSONL)") from None
    if size > MAX_RESULTS_BYTES:
        raise FsabenchError(f"--batch-results {path}: {size} bytes is over the {MAX_RESULTS_BYTES} byte limit",
                            hint="split the file")
    entries: dict[str, dict[str, Any]] = {}
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            entry = parse_line(raw[:MAX_LINE_BYTES]) if len(raw) <= MAX_LINE_BYTES else None
            if entry is None or not isinstance(entry.get("custom_id"), str):
                raise FsabenchError(f"--batch-results {path}: line {number} is not a batch output line",
                                    hint='each line is {"custom_id": ..., "response": {...}, "error": ...}')
            previous = entries.get(entry["custom_id"])
            ok = (entry.get("response") or {}).get("status_code") == 200 if isinstance(entry.get("response"), dict) else False
            if previous is None or ok:
                entries[entry["custom_id"]] = entry
    return entries


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
