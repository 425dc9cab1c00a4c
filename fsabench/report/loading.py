"""Read RunResult files for a report and group seeds: (model, protocol, task variant) -> runs.

A *variant* is what makes two runs of a task comparable: the task definition hash, the data
hashes and the set of example ids. Runs of different variants are never averaged; when one task
name has several variants, each gets its own label (e.g. ``atsa-rest14 [n=200]``) and a flag.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fsabench.errors import ResultError
from fsabench.results import RunResult, find_results, load_result


def load_runs(paths: Sequence[str | Path], exclude: str | Path | None = None) -> list[RunResult]:
    """Every RunResult under the given files and folders (sorted by path); bad files raise ResultError.

    `exclude` is a folder to skip (the report's own output when it sits inside a runs folder)."""
    files = find_results(list(paths))
    if exclude is not None:
        skip = Path(exclude).resolve()
        files = [f for f in files if skip not in f.resolve().parents]
    if not files:
        raise ResultError(f"{', '.join(str(p) for p in paths)}: no RunResult *.json files found",
                          hint="point the report at folders written by `fsabench run -o DIR`")
    return [check_run(path, load_result(path)) for path in files]


def check_run(path: Path, result: RunResult) -> RunResult:
    """Refuse partial or inconsistent results, naming the file."""
    if not result.complete:
        raise ResultError(f"{path}: partial result (complete=false, {len(result.examples)} examples)",
                          hint="re-run `fsabench run` with the same options to finish it, or move the file away")
    if "all" not in result.scores:
        raise ResultError(f"{path}: field 'scores' has no 'all' subset", hint="the file is damaged or hand-edited")
    if result.scores["all"].n != len(result.examples):
        raise ResultError(f"{path}: field 'scores.all.n' is {result.scores['all'].n} but the file holds "
                          f"{len(result.examples)} examples", hint="the file is truncated or hand-edited")
    return result


def model_label(result: RunResult) -> str:
    """The model name with its own seed folded to '*': checkpoints fine-tuned per seed
    (`hf:runs/student-seed42` run with --seed 42, `...-seed52` with --seed 52) are one model."""
    pattern = re.compile(rf"(seed[-_=]?){result.seed}(?!\d)", re.IGNORECASE)
    return pattern.sub(lambda m: f"{m.group(1)}*", result.model.name)


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def ids_hash(result: RunResult) -> str:
    return _short("\n".join(sorted(r.id for r in result.examples)))


def data_hash(result: RunResult) -> str:
    return _short("\n".join(f"{k}={v}" for k, v in sorted(result.task.data.items())))


def variant_of(result: RunResult) -> tuple[str, str, str]:
    """(definition, data, examples) fingerprints: equal only when scores are comparable."""
    return result.task.sha256[:8], data_hash(result), ids_hash(result)


PAPER_TASKS = ("atsa-rest14", "atsa-laptop14", "acsa-rest16", "acsa-laptop16")


def task_order(label: str) -> tuple[int, str]:
    """The paper's four tasks first (in its order), then every other task by name."""
    name = label.split(" [")[0]
    return (PAPER_TASKS.index(name) if name in PAPER_TASKS else len(PAPER_TASKS), label)


@dataclass(frozen=True)
class Group:
    """The seeds of one model on one task variant under one protocol."""

    model: str
    protocol: str
    task: str  # display label: the task name, plus a variant tag when the name is ambiguous
    task_name: str
    task_type: str
    variant: tuple[str, str, str]
    runs: tuple[RunResult, ...]  # sorted by seed

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    @property
    def key(self) -> tuple[str, str, str]:
        return self.model, self.protocol, self.task


def task_labels(results: Iterable[RunResult]) -> dict[tuple[str, tuple[str, str, str]], str]:
    """(task name, variant) -> label; a plain name unless the name has several variants."""
    variants: dict[str, dict[tuple[str, str, str], RunResult]] = defaultdict(dict)
    for r in results:
        variants[r.task.name].setdefault(variant_of(r), r)
    labels = {}
    for name, found in variants.items():
        if len(found) == 1:
            labels[name, next(iter(found))] = name
            continue
        for variant, sample in found.items():
            parts = []
            if len({v[0] for v in found}) > 1:
                parts.append(f"def {variant[0]}")
            if len({v[1] for v in found}) > 1:
                parts.append(f"data {variant[1]}")
            if len({v[2] for v in found}) > 1:
                parts.append(f"n={len(sample.examples)}")
            labels[name, variant] = f"{name} [{', '.join(parts)}]"
        named = [labels[name, v] for v in found]
        for variant in found:  # same size, different examples: add the ids fingerprint
            if named.count(labels[name, variant]) > 1:
                labels[name, variant] = f"{labels[name, variant][:-1]}, ids {variant[2][:6]}]"
    return labels


def group_runs(results: Iterable[RunResult]) -> tuple[list[Group], list[str]]:
    """Seeds grouped by (model, protocol, task variant), sorted; plus flags about what was kept apart."""
    results = list(results)
    labels = task_labels(results)
    buckets: dict[tuple[str, str, str], list[RunResult]] = defaultdict(list)
    flags: list[str] = []
    for r in results:
        buckets[model_label(r), r.protocol, labels[r.task.name, variant_of(r)]].append(r)
    groups = []
    for (model, protocol, label), runs in sorted(buckets.items(), key=lambda kv: (task_order(kv[0][2]), kv[0])):
        kept = _unique_seeds(model, label, runs, flags)
        first = kept[0]
        groups.append(Group(model, protocol, label, first.task.name, first.task.type, variant_of(first),
                            tuple(kept)))
    flags += variant_flags(results, labels) + protocol_flags(groups)
    return groups, flags


def _unique_seeds(model: str, label: str, runs: list[RunResult], flags: list[str]) -> list[RunResult]:
    """One run per seed: a repeated seed would be counted twice in the mean, so keep the first."""
    by_seed: dict[int, RunResult] = {}
    for r in runs:
        if r.seed in by_seed:
            same = r.scores == by_seed[r.seed].scores
            flags.append(f"{model} on {label}: seed {r.seed} appears more than once "
                         f"({'same scores' if same else 'different scores'}); only the first file is used")
            continue
        by_seed[r.seed] = r
    return [by_seed[s] for s in sorted(by_seed)]


def variant_flags(results: list[RunResult], labels: dict) -> list[str]:
    flags = []
    names = sorted({name for name, _ in labels})
    for name in names:
        variants = sorted(label for (n, _), label in labels.items() if n == name)
        if len(variants) > 1:
            models = {label: sorted({r.model.name for r in results
                                     if r.task.name == name and labels[name, variant_of(r)] == label})
                      for label in variants}
            listing = "; ".join(f"{label}: {', '.join(models[label])}" for label in variants)
            flags.append(f"{name}: results differ in task definition, data or examples and are not "
                         f"comparable; shown as separate tasks ({listing})")
    return flags


def protocol_flags(groups: list[Group]) -> list[str]:
    """A model run under several protocols, and tasks whose rows mix protocols (baselines aside)."""
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_task: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for g in groups:
        seen[g.model, g.task].append(g.protocol)
        if g.protocol != "baseline":
            by_task[g.task][g.protocol].append(g.model)
    flags = [f"{model} on {task}: results under different protocols ({', '.join(protocols)}) are kept as "
             f"separate rows, never averaged" for (model, task), protocols in sorted(seen.items()) if len(protocols) > 1]
    for task, protocols in by_task.items():
        if len(protocols) > 1:
            listing = "; ".join(f"{p}: {', '.join(sorted(set(m)))}" for p, m in sorted(protocols.items()))
            flags.append(f"{task}: rows mix protocols ({listing}); compare them knowing the protocol differs")
    return flags
