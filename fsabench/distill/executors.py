"""Run fine-tuning jobs (task x seed) here or on a Ray cluster.

`local`: in this process one after another (workers=1), or in `workers` spawned processes, each
with an equal share of the CPU threads. `ray`: one Ray task per job, each asking for
`cpus_per_job` CPUs and `gpus_per_job` GPUs, so a sweep spreads over every GPU or machine of a
cluster (`RAY_ADDRESS` or `ray_address` joins an existing one; otherwise a local Ray instance
starts). Multi-GPU training of one run is accelerate's job, not the executor's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace

from fsabench.distill.finetune import FinetuneJob, JobOutcome, run_job
from fsabench.errors import FsabenchError

Done = Callable[[JobOutcome], None]
EXECUTORS = ("local", "ray")


def run_jobs(jobs: Sequence[FinetuneJob], executor: str = "local", workers: int = 1, on_done: Done | None = None,
             cpus_per_job: float = 1.0, gpus_per_job: float = 0.0, ray_address: str | None = None) -> list[JobOutcome]:
    """Every job's outcome, in job order."""
    on_done = on_done or (lambda _: None)
    if executor == "local":
        return _local(jobs, workers, on_done)
    if executor == "ray":
        return _ray(jobs, on_done, cpus_per_job, gpus_per_job, ray_address)
    raise FsabenchError(f"unknown executor {executor!r}", hint=f"use one of {', '.join(EXECUTORS)}")


def _with_threads(job: FinetuneJob, threads: int) -> FinetuneJob:
    if job.config.threads:
        return job
    return replace(job, config=job.config.model_copy(update={"threads": threads}))


def _local(jobs: Sequence[FinetuneJob], workers: int, on_done: Done) -> list[JobOutcome]:
    if workers <= 1 or len(jobs) <= 1:
        outcomes = []
        for job in jobs:
            outcomes.append(run_job(job))
            on_done(outcomes[-1])
        return outcomes
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = min(workers, len(jobs))
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # torch is not fork-safe once its threads started
    outcomes: list[JobOutcome | None] = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_job, _with_threads(job, threads)): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            on_done(outcomes[futures[future]])
    return [o for o in outcomes if o is not None]


def _ray(jobs: Sequence[FinetuneJob], on_done: Done, cpus: float, gpus: float, address: str | None) -> list[JobOutcome]:
    try:
        import ray
    except ImportError:
        raise FsabenchError("--executor ray needs Ray", hint="pip install 'fsabench[distill]'") from None
    started = not ray.is_initialized()
    if started:
        address = address or os.environ.get("RAY_ADDRESS")
        options = {"address": address} if address else {"num_cpus": max(1, int(os.cpu_count() or 1))}
        ray.init(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                 logging_level=logging.WARNING, **options)
    try:
        check_resources(ray.cluster_resources(), cpus, gpus)
        remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(run_job)
        threads = max(1, int(cpus))
        refs = {remote.remote(_with_threads(job, threads)): i for i, job in enumerate(jobs)}
        outcomes: list[JobOutcome | None] = [None] * len(jobs)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as exc:  # a worker died or raised outside FsabenchError
                    job = jobs[refs[ref]]
                    outcome = JobOutcome(job.task, job.seed, error=f"ray: {str(exc).strip().splitlines()[0]}")
                outcomes[refs[ref]] = outcome
                on_done(outcome)
        return [o for o in outcomes if o is not None]
    finally:
        if started:
            ray.shutdown()


def check_resources(available: dict, cpus: float, gpus: float) -> None:
    """A job asking for more than the whole cluster has would wait forever: refuse it up front."""
    for kind, resource, wanted, key in (("CPUs", "CPU", cpus, "cpus_per_job"), ("GPUs", "GPU", gpus, "gpus_per_job")):
        have = available.get(resource, 0.0)
        if wanted > have:
            raise FsabenchError(f"each fine-tuning job asks for {wanted:g} {kind} but the Ray cluster has {have:g}",
                                hint=f"lower finetune.{key}, or join a bigger cluster with RAY_ADDRESS")
