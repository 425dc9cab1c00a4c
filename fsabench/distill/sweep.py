"""A fine-tuning sweep: tasks x seeds -> jobs -> executor -> RunResults + one aggregate file.

The aggregate (mean and standard deviation over seeds, per task and subset) is written to
`<work>/aggregate.json`, outside the RunResult folder, so tools that read every *.json there as a
RunResult are not confused by it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fsabench.distill.executors import Done, run_jobs
from fsabench.distill.finetune import FinetuneConfig, FinetuneJob, JobOutcome, aggregate
from fsabench.errors import FsabenchError
from fsabench.io import write_json_atomic

AGGREGATE = "aggregate.json"


@dataclass(frozen=True)
class SweepOptions:
    executor: str = "local"
    workers: int = 1
    cpus_per_job: float = 1.0
    gpus_per_job: float = 0.0
    ray_address: str | None = None
    keep: bool = False
    shared_dir: Path | None = None  # ray: storage every worker sees (absolute)


MAX_SEED = 2**63 - 1


def plan_jobs(model: str, label: str, tasks: Sequence[str], seeds: Sequence[int], output: Path, work: Path,
              data_dir: Path, config: FinetuneConfig, tasks_dir: Sequence[str] = (), keep: bool = False) -> list[FinetuneJob]:
    """One job per (task, seed); task groups expand, every task must have a dev split."""
    from fsabench.tasks.registry import build_registry

    if not Path(data_dir).is_dir():  # fail here, not in every job on every worker
        raise FsabenchError(f"data directory {data_dir} does not exist",
                            hint="run `fsabench data pull`, or set --data-dir / FSABENCH_DATA_DIR")
    registry = build_registry(list(tasks_dir) or None)
    names = registry.expand(list(tasks))
    for name in names:
        if "dev" not in registry.spec(name).data.splits:
            raise FsabenchError(f"task {name} has no dev split", hint="best-epoch selection needs data.splits.dev")
    if not seeds:
        raise FsabenchError("no seeds given", hint="pass --seeds, e.g. 42,52,62")
    for seed in seeds:  # torch.manual_seed takes at most 64 bits; a bool or "7" is not a seed
        if type(seed) is not int or not 0 <= seed <= MAX_SEED:
            raise FsabenchError(f"seed {seed!r} is not an integer from 0 to {MAX_SEED}", hint="e.g. --seeds 42,52,62")
    repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if repeated:  # `--seeds 1,1` reported a two-seed mean of one run with std 0.0
        raise FsabenchError(f"seed {repeated[0]} is given twice", hint="give each seed once: the mean and std are "
                            "over distinct runs")
    return [FinetuneJob(model, label, name, seed, Path(output), Path(work), Path(data_dir), config,
                        tuple(tasks_dir), keep) for name in names for seed in seeds]


def sweep(jobs: Sequence[FinetuneJob], work: Path, options: SweepOptions = SweepOptions(),
          on_done: Done | None = None) -> dict[str, Any]:
    """Run the jobs, write and return the aggregate; failed jobs are listed, never averaged in."""
    if options.executor == "ray":
        jobs = ray_paths(jobs, options.shared_dir, bool(options.ray_address or os.environ.get("RAY_ADDRESS")))
    outcomes: list[JobOutcome] = run_jobs(jobs, options.executor, options.workers, on_done,
                                          options.cpus_per_job, options.gpus_per_job, options.ray_address)
    label = jobs[0].label if jobs else ""
    summary = aggregate(outcomes, label)
    summary["executor"] = options.executor
    summary["errors"] = [f"{o.task} seed {o.seed}: {o.error}" for o in outcomes if o.error]
    write_json_atomic(Path(work) / AGGREGATE, summary)
    return summary


def ray_paths(jobs: Sequence[FinetuneJob], shared_dir: Path | None, joining: bool) -> list[FinetuneJob]:
    """Jobs whose paths mean the same on every Ray worker: absolute, and under `shared_dir`.

    A worker on another machine resolves a relative path against its own folder and writes its
    results where the driver never looks, so: `shared_dir` must be absolute; every job's model folder,
    data, result and work folders are made absolute and must lie under it; joining a cluster
    (RAY_ADDRESS / ray_address) without a shared dir is refused. A local Ray needs no shared dir."""
    if shared_dir is not None and not Path(shared_dir).is_absolute():
        raise FsabenchError(f"--shared-dir {shared_dir}: a relative path means a different folder on each Ray worker",
                            hint="give the absolute path of storage every worker mounts, e.g. /shared/fsabench")
    if shared_dir is None and joining:
        raise FsabenchError("fine-tuning on a Ray cluster needs storage every worker sees",
                            hint="give --shared-dir (recipe: finetune.shared_dir), an absolute folder on shared "
                                 "storage holding the student, the data and the outputs")
    root = Path(shared_dir).resolve() if shared_dir is not None else None

    def absolute(path: Path, what: str) -> Path:
        full = Path(path).expanduser().resolve()
        if root is not None and not full.is_relative_to(root):
            raise FsabenchError(f"{what} {full} is not under --shared-dir {root}: Ray workers may not see it",
                                hint=f"put it under {root} (or give a --shared-dir that holds it)")
        return full

    placed = []
    for job in jobs:
        model = job.model
        scheme, sep, rest = model.partition(":")
        if sep and scheme == "hf" and Path(rest).exists():
            model = f"hf:{absolute(Path(rest), 'student')}"
        placed.append(replace(job, model=model, output=absolute(job.output, "results folder"),
                              work=absolute(job.work, "work folder"), data_dir=absolute(job.data_dir, "data dir")))
    return placed
