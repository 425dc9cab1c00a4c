"""SweepSpec -> cells (model, task, shots, seed, prompt) -> units of work, and where each cell's result lives.

Every cell is one ordinary run with its own run key and its own RunResult file:

    DIR/<model folder>/<task>__shots<k>__prompt-<name>__seed<s>.json

A unit is the cells one worker runs with one loaded model. A model that is costly to load (hf, lm-eval,
anything not known to be light) is one unit, so it is never loaded twice at once; a light model (an API
endpoint or a baseline: nothing to load) is split so its cells run side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fsabench.errors import SpecError
from fsabench.results import model_dir_name, slug
from fsabench.sweep.spec import ModelEntry, SweepSpec

LIGHT_SCHEMES = frozenset({"baseline", "litellm", "openai-compat"})  # loading them costs nothing


@dataclass(frozen=True, order=True)
class Cell:
    model: str
    task: str
    num_shots: int
    seed: int
    prompt: str

    @property
    def id(self) -> str:
        return f"{self.model} {self.task} shots={self.num_shots} seed={self.seed} prompt={self.prompt}"

    def path(self, out_dir: Path) -> Path:
        name = f"{slug(self.task)}__shots{self.num_shots}__prompt-{slug(self.prompt)}__seed{self.seed}.json"
        return Path(out_dir) / model_dir_name(self.model) / name


@dataclass(frozen=True)
class Unit:
    """Cells of one model for one worker, and everything the worker needs to run them anywhere."""

    entry: ModelEntry
    cells: tuple[Cell, ...]
    out_dir: Path
    limit: int | None = None
    data_dir: Path | None = None
    tasks_dir: tuple[str, ...] = ()
    cache: bool = True
    cache_dir: Path | None = None
    threads: int | None = None
    write: bool = True  # False: the worker returns results and the driver writes them (a cluster, no shared dir)
    log: Path | None = None  # events file (start of each cell, with the worker's pid)
    tags: dict = field(default_factory=dict)


def is_light(model: str) -> bool:
    return model.partition(":")[0] in LIGHT_SCHEMES


def expand(spec: SweepSpec, registry, where: str = "sweep file") -> list[Cell]:
    """Every cell of the grid, exclude rules applied, in model order. Task groups expand to their tasks;
    a prompt variant a task does not declare, or shots for a task without a train split, is an error
    naming the sweep file's field (not a failure an hour into the sweep)."""
    tasks = registry.expand(list(spec.tasks))
    if not tasks:
        raise SpecError(f"{where}: field 'tasks' names no task", hint="list task or group names, e.g. [atsa-rest14]")
    specs = {name: registry.spec(name) for name in tasks}
    for name, task in specs.items():
        missing = [p for p in spec.prompts if p not in task.prompt_names]
        if missing:
            raise SpecError(f"{where}: field 'prompts': task {name} has no prompt variant {missing[0]!r}",
                            hint=f"its variants: {', '.join(task.prompt_names)}; declare it under `prompts:` in "
                                 f"the task file, or exclude those cells ({{task: {name}, prompt: {missing[0]}}})")
    cells = [Cell(entry.model, task, shots, seed, prompt) for entry in spec.models for task in tasks
             for shots in spec.num_shots for seed in spec.seeds for prompt in spec.prompts]
    cells = [c for c in cells if not any(rule.matches(c) for rule in spec.exclude)]
    no_train = next((c for c in cells if c.num_shots and "train" not in specs[c.task].data.splits), None)
    if no_train is not None:
        raise SpecError(f"{where}: field 'num_shots': task {no_train.task} has no train split to draw shots from",
                        hint=f"exclude its few-shot cells, e.g. {{task: {no_train.task}, num_shots: {no_train.num_shots}}}")
    return cells


def make_units(spec: SweepSpec, cells: Sequence[Cell], out_dir: Path, split_light: int, **common) -> list[Unit]:
    """One unit per costly model; a light model's cells cut into `split_light` contiguous units
    (for Ray: 2 x --max-parallel units, so the cluster spreads them)."""
    units = []
    for entry in spec.models:
        mine = sorted((c for c in cells if c.model == entry.model), key=lambda c: (c.task, c.prompt, c.num_shots, c.seed))
        if not mine:
            continue
        parts = max(1, min(split_light, len(mine))) if is_light(entry.model) else 1
        size = -(-len(mine) // parts)  # contiguous blocks: a worker reads few tasks' data
        for start in range(0, len(mine), size):
            units.append(Unit(entry, tuple(mine[start:start + size]), Path(out_dir), limit=spec.limit, **common))
    return units
