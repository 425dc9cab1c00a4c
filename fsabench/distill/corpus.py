"""The teacher corpus on disk: raw responses in, filtered train and validation files out.

Layout of a corpus folder:
    responses.jsonl  every teacher response as it arrived (generated or imported); append-only,
                     so generation resumes where it stopped
    corpus.jsonl     the rows that passed the filters (what pretraining reads)
    valid.jsonl      filtered rows held out by hash for the validation loss
    report.json      what each filter dropped or cut, and the counts; written last (stage marker)

Rows keep the seed corpus shape (HITSZ-HLT/FSA-Distillation): `ID`, `Text`, `Overall`,
`<teacher>_response`, plus `prompt_type` (analysis or rewrite) and, when known, `finish_reason`.
The released 500-line Mixtral file and the seed corpus import as they are; their prompt type is
inferred (an analysis starts with "Opinion Target").
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fsabench.distill.data import held_out, read_lines, response_key, row_key
from fsabench.distill.filters import FilterSpec, FilterTally, check
from fsabench.distill.formatcheck import ANALYSIS, check_analysis
from fsabench.errors import DataError
from fsabench.io import write_json_atomic

RESPONSES, CORPUS, VALID, REPORT = "responses.jsonl", "corpus.jsonl", "valid.jsonl", "report.json"


def infer_prompt_type(response: str) -> str:
    """The seed corpus does not say which prompt produced a response; its analyses all open with
    "Opinion Target", its rewrites never do."""
    return "analysis" if re.match(r"\s*Opinion Target", response) else "rewrite"


def normalize(row: dict[str, Any], where: str) -> dict[str, Any]:
    """A corpus row with `prompt_type` set; errors name the file and line."""
    key = response_key(row)
    if key is None or not isinstance(row.get("Text"), str):
        raise DataError(f"{where}: not a corpus row (needs `Text` and a `*_response` field)",
                        hint="import the seed corpus format: ID, Text, Overall, <teacher>_response")
    if "prompt_type" not in row:
        response = row.get(key)
        row = {**row, "prompt_type": infer_prompt_type(response if isinstance(response, str) else "")}
    return row


def import_rows(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        raise DataError(f"{path}: file to import not found",
                        hint="check the path; {data_dir} in a recipe is --data-dir / FSABENCH_DATA_DIR "
                             "(`fsabench data pull` downloads the teacher file)")
    for number, (row, _) in enumerate(read_lines(path), start=1):
        yield normalize(row, f"{path} row {number}")


def released_share(path: Path, fmt=None) -> tuple[int, int]:
    """(accepted, analyses): how many analyses of a seed-format teacher file the format check accepts
    (`python scripts/format_share.py` prints it for the released answers under each prompt format)."""
    from fsabench.distill.formatcheck import accepted_share

    return accepted_share(import_rows(Path(path)), fmt or ANALYSIS)


def done_keys(responses: Path) -> set[str]:
    """Keys (ID:prompt_type) already in responses.jsonl: what generation must not ask again."""
    return {row_key(row) for row, _ in read_lines(responses)} if responses.is_file() else set()


class ResponseLog:
    """Append-only responses.jsonl: each write is flushed and fsynced, so a kill loses nothing written."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / RESPONSES
        self.keys = done_keys(self.path)
        self._repair_tail()

    def _repair_tail(self) -> None:
        """A kill mid-write can leave a partial last line: end the file with a newline."""
        if self.path.is_file() and self.path.stat().st_size:
            with self.path.open("rb+") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")

    def append(self, rows: Iterable[dict[str, Any]]) -> int:
        fresh = [r for r in rows if row_key(r) not in self.keys]
        if not fresh:
            return 0
        with self.path.open("a", encoding="utf-8") as handle:
            for row in fresh:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                self.keys.add(row_key(row))
            handle.flush()
            os.fsync(handle.fileno())
        return len(fresh)


def import_corpus(paths: Iterable[Path], folder: Path) -> int:
    """Copy rows of seed-format files into responses.jsonl (skipping rows already there)."""
    log = ResponseLog(folder)
    return sum(log.append(import_rows(Path(p))) for p in paths)


def _filtered(source: Path, filters: FilterSpec, tally: FilterTally | None = None,
              counts: Counter | None = None) -> Iterator[dict[str, Any]]:
    """The rows of responses.jsonl that pass the filters (first copy of each key), cut as the filters say."""
    seen: set[str] = set()
    for number, (row, _) in enumerate(read_lines(source), start=1):
        if counts is not None:
            counts["responses"] += 1
        row = normalize(row, f"{source} row {number}")
        if row_key(row) in seen:
            if tally is not None:
                tally.add("duplicate", False)
            continue
        seen.add(row_key(row))
        kept, reason, cut = check(filters, row, response_key(row))
        if tally is not None:
            tally.add(reason, cut)
        if kept is not None:
            yield kept


def finalize(folder: Path, filters: FilterSpec, valid_fraction: float, size: int | None = None,
             seed: int = 42) -> dict[str, Any]:
    """Stream responses.jsonl through the filters into corpus.jsonl and valid.jsonl; write report.json.
    `size` keeps that many of the filtered responses, a seeded sample by hash of ID:prompt_type
    (fsabench.distill.sampling: a smaller size is a subset of a larger one)."""
    source = folder / RESPONSES
    if not source.is_file():
        raise DataError(f"{source}: no responses to build a corpus from",
                        hint="generate with --teacher and --reviews, or --import a seed corpus file")
    chosen = None
    if size is not None:
        from fsabench.distill.sampling import bottom_k

        chosen = bottom_k((row_key(r) for r in _filtered(source, filters)), size, seed)
    tally, kinds = FilterTally(), Counter()
    counts = Counter()
    tmp = {name: folder / f".{name}.tmp" for name in (CORPUS, VALID)}
    with tmp[CORPUS].open("w", encoding="utf-8") as train, tmp[VALID].open("w", encoding="utf-8") as valid:
        for index, kept in enumerate(_filtered(source, filters, tally, counts)):
            if chosen is not None and index not in chosen:
                counts["over_size"] += 1
                continue
            kinds[kept["prompt_type"]] += 1
            if kept["prompt_type"] == "analysis":
                counts["as_prompted"] += check_analysis(str(kept[response_key(kept)]), ANALYSIS) is None
            target = valid if held_out(kept, valid_fraction) else train
            counts["valid" if target is valid else "train"] += 1
            target.write(json.dumps(kept, ensure_ascii=False) + "\n")
    for name, path in tmp.items():
        os.replace(path, folder / name)
    report = {"responses": counts["responses"], **tally.as_dict(), "kept": counts["train"] + counts["valid"],
              "train": counts["train"], "valid": counts["valid"], "by_prompt_type": dict(sorted(kinds.items())),
              "valid_fraction": valid_fraction, "filters": filters.model_dump(mode="json"),
              # analyses in the format the analysis prompt asks for (a count, not a filter)
              "format": {"analyses": kinds["analysis"], "as_prompted": counts["as_prompted"]}}
    if size is not None:
        report.update({"size": size, "seed": seed, "left_out_by_size": counts["over_size"]})
    write_json_atomic(folder / REPORT, report)
    return report
