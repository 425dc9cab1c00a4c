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

from fsabench.errors import FsabenchError, ResultError
from fsabench.report.labels import Labels, display_names
from fsabench.results import RunResult, find_results, load_result
from fsabench.io import read_json


@dataclass
class Loaded:
    """The runs a report reads, plus what it left out or corrected (each a one-line note)."""

    results: list[RunResult]
    skipped: list[Path]  # JSON files that are not RunResults (configs, tokenizers, summaries)
    warnings: list[str]  # files whose stored scores disagree with their examples

    @property
    def notes(self) -> list[str]:
        notes = list(self.warnings)
        if self.skipped:
            listing = ", ".join(p.as_posix() for p in self.skipped[:8])
            more = f" and {len(self.skipped) - 8} more (report.json lists every one)" if len(self.skipped) > 8 else ""
            notes.insert(0, f"skipped {len(self.skipped)} JSON files that are not RunResults: {listing}{more}")
        return notes


def is_run_result(path: Path) -> bool:
    """True when the file is a JSON object with a schema_version (a RunResult, maybe damaged);
    invalid JSON is treated as a damaged RunResult so load_result names the problem."""
    try:
        payload = read_json(path, "result file")
    except FsabenchError:
        return True
    return isinstance(payload, dict) and "schema_version" in payload


def read_runs(paths: Sequence[str | Path], exclude: str | Path | None = None) -> Loaded:
    """Every RunResult under the given files and folders (any depth, sorted by path), its scores
    re-computed from its examples; other JSON files are skipped and listed, bad RunResults raise.

    `exclude` is a folder to skip (the report's own output when it sits inside a runs folder)."""
    from fsabench.report.rescore import recompute

    files = find_results(list(paths))
    if exclude is not None:
        skip = Path(exclude).resolve()
        files = [f for f in files if skip not in f.resolve().parents]
    skipped = [f for f in files if not is_run_result(f)]
    files = [f for f in files if f not in skipped]
    if not files:
        raise ResultError(f"{', '.join(str(p) for p in paths)}: no RunResult *.json files found"
                          + (f" ({len(skipped)} other JSON files skipped)" if skipped else ""),
                          hint="point the report at folders written by `fsabench run -o DIR`")
    results, warnings = [], []
    for path in files:
        result, warning = recompute(path, check_run(path, load_result(path)))
        results.append(result)
        if warning:
            warnings.append(warning)
    return Loaded(results, skipped, warnings)


def load_runs(paths: Sequence[str | Path], exclude: str | Path | None = None) -> list[RunResult]:
    """Every RunResult under the given files and folders, scores re-computed (see read_runs)."""
    return read_runs(paths, exclude).results


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
    name = label.split(" [")[0].split(" (partial")[0]
    return (PAPER_TASKS.index(name) if name in PAPER_TASKS else len(PAPER_TASKS), is_partial(label), label)


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
    model_id: str = ""  # the seed-folded model string (`model` is its display name)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    @property
    def partial(self) -> bool:
        """A smaller example set than the task's main rows (a `--limit` run), reported apart."""
        return is_partial(self.task)

    @property
    def n(self) -> int:
        return len(self.runs[0].examples)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.model, self.protocol, self.task


def _main_variants(found: dict[tuple[str, str, str], RunResult]) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(definition, data) -> the variant with the most examples: the task's main rows. A smaller
    example set of the same definition and data (a `--limit` run) is reported apart as partial."""
    main: dict[tuple[str, str], tuple[str, str, str]] = {}
    for variant, sample in sorted(found.items(), key=lambda kv: (-len(kv[1].examples), kv[0])):
        main.setdefault(variant[:2], variant)
    return main


def task_labels(results: Iterable[RunResult]) -> dict[tuple[str, tuple[str, str, str]], str]:
    """(task name, variant) -> label: the plain name for a task's main rows, a definition or data tag
    when those differ, and `(partial, n=N)` for a smaller example set of the same task."""
    variants: dict[str, dict[tuple[str, str, str], RunResult]] = defaultdict(dict)
    prompts: dict[tuple[str, str], set[str]] = defaultdict(set)  # (task, definition) -> prompt variants run
    for r in results:
        variants[r.task.name].setdefault(variant_of(r), r)
        prompts[r.task.name, variant_of(r)[0]].add(str(r.meta.get("prompt") or "default"))
    labels = {}
    for name, found in variants.items():
        main = _main_variants(found)
        defs, datas = {v[0] for v in main.values()}, {v[1] for v in main.values()}
        named = {d: next(iter(prompts[name, d])) for d in defs if len(prompts[name, d]) == 1}
        by_prompt = len(named) == len(defs) and len(set(named.values())) == len(defs)  # one variant per definition
        for variant, sample in found.items():
            parts = []
            if len(defs) > 1:
                parts.append(f"prompt {named[variant[0]]}" if by_prompt else f"def {variant[0]}")
            if len(datas) > 1:
                parts.append(f"data {variant[1]}")
            label = f"{name} [{', '.join(parts)}]" if parts else name
            if main[variant[:2]] != variant:
                label += f" (partial, n={len(sample.examples)})"
            labels[name, variant] = label
        named = [labels[name, v] for v in found]
        for variant in found:  # same size, different examples: add the ids fingerprint
            if named.count(labels[name, variant]) > 1:
                labels[name, variant] = f"{labels[name, variant][:-1]}, ids {variant[2][:6]})"
    return labels


def is_partial(label: str) -> bool:
    return "(partial, n=" in label


def model_names(results: Sequence[RunResult], labels: Labels | None = None) -> dict[str, str]:
    """model (seed-folded string) -> display name; a label given for a per-seed string applies too."""
    labels = labels or Labels()
    extra = {model_label(r): labels.names[r.model.name] for r in results
             if r.model.name in labels.names and model_label(r) not in labels.names}
    local = {model_label(r): "fingerprint" in r.model.identity for r in results if r.model.scheme == "hf"}
    models = sorted({model_label(r) for r in results})
    return display_names(models, Labels({**extra, **labels.names}, labels.colors), local)


def group_runs(results: Iterable[RunResult], labels: Labels | None = None) -> tuple[list[Group], list[str]]:
    """Seeds grouped by (model, protocol, task variant), sorted; plus flags about what was kept apart.

    Groups carry the model's display name (`model`) and its seed-folded model string (`model_id`)."""
    results = list(results)
    tasks = task_labels(results)
    names = model_names(results, labels)
    buckets: dict[tuple[str, str, str], list[RunResult]] = defaultdict(list)
    flags: list[str] = []
    for r in results:
        buckets[names[model_label(r)], r.protocol, tasks[r.task.name, variant_of(r)]].append(r)
    groups = []
    for (model, protocol, label), runs in sorted(buckets.items(), key=lambda kv: (task_order(kv[0][2]), kv[0])):
        kept = _unique_seeds(model, label, runs, flags)
        first = kept[0]
        groups.append(Group(model, protocol, label, first.task.name, first.task.type, variant_of(first),
                            tuple(kept), model_label(first)))
    flags += variant_flags(results, tasks, names) + protocol_flags(groups)
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


def variant_flags(results: list[RunResult], labels: dict, names: dict[str, str]) -> list[str]:
    flags = []
    for name in sorted({task for task, _ in labels}):
        variants = sorted(label for (n, _), label in labels.items() if n == name)
        if len(variants) < 2:
            continue
        models = {label: sorted({names[model_label(r)] for r in results
                                 if r.task.name == name and labels[name, variant_of(r)] == label})
                  for label in variants}
        main = [v for v in variants if not is_partial(v)]
        partial = [v for v in variants if is_partial(v)]
        if len(main) > 1:
            listing = "; ".join(f"{label}: {', '.join(models[label])}" for label in main)
            flags.append(f"{name}: results differ in task definition or data and are not "
                         f"comparable; shown as separate tasks ({listing})")
        if partial:
            listing = "; ".join(f"{label}: {', '.join(models[label])}" for label in partial)
            flags.append(f"{name}: runs on fewer examples (--limit) are reported apart as partial and change "
                         f"no other row ({listing})")
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
