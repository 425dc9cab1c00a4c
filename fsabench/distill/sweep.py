"""A fine-tuning sweep: tasks x seeds -> jobs -> executor -> RunResults + one aggregate file.

The aggregate (mean and standard deviation over seeds, per task and subset) is written to
`<work>/aggregate.json`, outside the RunResult folder, so tools that read every *.json there as a
RunResult are not confused by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
    return [FinetuneJob(model, label, name, seed, Path(output), Path(work), Path(data_dir), config,
                        tuple(tasks_dir), keep) for name in names for seed in seeds]


def sweep(jobs: Sequence[FinetuneJob], work: Path, options: SweepOptions = SweepOptions(),
          on_done: Done | None = None) -> dict[str, Any]:
    """Run the jobs, write and return the aggregate; failed jobs are listed, never averaged in."""
    outcomes: list[JobOutcome] = run_jobs(jobs, options.executor, options.workers, on_done,
                                          options.cpus_per_job, options.gpus_per_job, options.ray_address)
    label = jobs[0].label if jobs else ""
    summary = aggregate(outcomes, label)
    summary["executor"] = options.executor
    summary["errors"] = [f"{o.task} seed {o.seed}: {o.error}" for o in outcomes if o.error]
    write_json_atomic(Path(work) / AGGREGATE, summary)
    return summary
