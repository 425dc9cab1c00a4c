"""`distill recipe R.yaml --sweep corpus.size=50000,100000,...`: one recipe at several values of a key.

Each value runs the whole recipe into `<out>/<key>=<value>/` (its own corpus folder, student,
fine-tuning results, each resumable as a recipe is). For `corpus.size` the teacher is asked once:
the full corpus is built in `<out>/corpus/` and every point's corpus starts from a link to its
responses.jsonl, then keeps its seeded `size` (nested: a smaller corpus is a subset of a larger one).
Every fine-tuned RunResult carries `meta.distill.corpus.responses`, so

    fsabench report <out> --preset paper

draws the corpus-size scaling section; two recipes that differ in their teacher, swept over the same
sizes into one folder, give the teacher quality-vs-quantity comparison (one line per teacher).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fsabench.errors import SpecError
from fsabench.io import write_json_atomic

SWEEP_SUMMARY = "sweep.json"


def parse_sweep(text: str) -> tuple[str, list[str]]:
    """`corpus.size=50000,100000` -> ("corpus.size", ["50000", "100000"])."""
    key, sep, values = text.partition("=")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key.strip() or not items:
        raise SpecError(f"--sweep {text!r}: expected KEY=V1,V2,...", hint="e.g. --sweep corpus.size=50000,100000,200000")
    if len(set(items)) != len(items):
        raise SpecError(f"--sweep {text!r}: a value repeats", hint="give each value once")
    return key.strip(), items


def point_folder(out: Path, key: str, value: str) -> Path:
    return Path(out) / f"{key}={value}"


def _link(source: Path, target: Path) -> None:
    """target becomes a hard link to source (a copy where links are not possible)."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def run_sweep(recipe: str, overrides: list[str], sweep: str, out: Path, data_dir: Path,
              say: Callable[[str], None], run_point: Callable[[Any, Path, Path], dict[str, Any]]) -> dict[str, Any]:
    """Run the recipe once per value; `run_point(recipe, recipe_path, out)` runs one (the CLI's
    recipe runner, so each point prints and resumes as a plain recipe run). Returns and writes
    `<out>/sweep.json`: per value, its folder, corpus size and fine-tuning means."""
    from fsabench.distill.recipe import load_recipe
    from fsabench.distill.stages import maybe_build_corpus

    key, values = parse_sweep(sweep)
    points = [(value, *load_recipe(recipe, [*overrides, f"{key}={value}"])) for value in values]  # all valid first
    out = Path(out)
    if key == "corpus.size":
        base, path = load_recipe(recipe, [o for o in overrides if not o.startswith("corpus.size=")])
        base = base.model_copy(update={"corpus": base.corpus.model_copy(update={"size": None})})
        say(f"sweep: the full corpus once in {out / 'corpus'}, then {len(values)} sizes")
        full = maybe_build_corpus(base.corpus, out / "corpus", path.resolve().parent, data_dir, say)
        for value, spec, _ in points:
            if spec.corpus.size and full.get("kept") is not None and spec.corpus.size > full["kept"]:
                raise SpecError(f"--sweep corpus.size={value}: the corpus has only {full['kept']} responses",
                                hint="sweep sizes up to the full corpus (more reviews: reviews[].sample)")
            _link(out / "corpus" / "responses.jsonl", point_folder(out, key, value) / "corpus" / "responses.jsonl")
    rows = []
    for value, spec, path in points:
        folder = point_folder(out, key, value)
        say(f"sweep: {key}={value} -> {folder}/")
        result = run_point(spec, path, folder)
        finetune = result.get("finetune") or {}
        rows.append({"value": value, "out": str(folder), "responses": (result.get("corpus") or {}).get("kept"),
                     "tasks": {task: info.get("subsets", {}).get("all") for task, info in
                               (finetune.get("tasks") or {}).items()},
                     "errors": finetune.get("errors", [])})
    summary = {"recipe": points[0][1].name, "key": key, "values": values, "out": str(out), "points": rows,
               "report": f"fsabench report {out} --preset paper"}
    write_json_atomic(out / SWEEP_SUMMARY, summary)
    return summary


def sweep_table(summary: dict[str, Any]):
    from rich.table import Table

    tasks = list(dict.fromkeys(t for p in summary["points"] for t in p["tasks"]))
    table = Table(title=f"{summary['recipe']}: {summary['key']} sweep (F1 'all', mean ± std over seeds)")
    for name in (summary["key"], "responses", *tasks):
        table.add_column(name)
    for point in summary["points"]:
        cells = []
        for task in tasks:
            score = point["tasks"].get(task) or {}
            mean, std = score.get("mean"), score.get("std")
            cells.append("–" if mean is None else f"{mean:.2f}" + (f" ± {std:.2f}" if std is not None else ""))
        table.add_row(point["value"], str(point["responses"]), *cells)
    return table

