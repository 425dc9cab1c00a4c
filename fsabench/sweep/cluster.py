"""The Ray executor: each unit is a Ray task that reserves its model's declared resources
(a light model's cells are cut into 2 x --max-parallel tasks, so a worker reads a task's data once for
several cells).

Without `--ray-address` the command starts a local Ray head on 127.0.0.1 with a bounded number of CPUs
and a small object store, and stops it at the end. With an address it joins that cluster. Results:
when the workers see the output folder (a local head, or `--shared-dir` that every node mounts) they
write each cell's file as it ends; otherwise each task returns its RunResults and the driver writes
them (so on such a cluster a unit's finished cells come back when its task ends).

A worker killed mid-cell (kill -9, a lost node) is retried by Ray (`max_retries`); the retried task
skips the cells already finished (same run key) and runs the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import replace

from fsabench.errors import FsabenchError
from fsabench.sweep.cells import Unit
from fsabench.sweep.worker import CellOutcome, run_unit

Done = Callable[[CellOutcome], None]
OBJECT_STORE_BYTES = 100 * 2**20  # results travel as files or small JSON: the store needs little


def _ray():
    try:
        import ray
    except ImportError:
        raise FsabenchError("--executor ray needs Ray", hint="pip install 'fsabench[distill]' (or pip install ray)") from None
    return ray


def start_ray(address: str | None, num_cpus: int):
    """Join `address`, or start a local head on 127.0.0.1; returns (ray, started_here)."""
    ray = _ray()
    if ray.is_initialized():
        return ray, False
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING, "configure_logging": True}
    if address:
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise FsabenchError(f"--ray-address {address}: cannot join the Ray cluster ({str(exc).splitlines()[0]})",
                                hint="check the address (ray status), or omit it to start a local Ray") from None
    else:
        with loopback_only():
            ray.init(num_cpus=num_cpus, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES,
                     _node_ip_address="127.0.0.1", **quiet)
    return ray, True


@contextmanager
def loopback_only():
    """A local head on 127.0.0.1, not on the machine's reachable address: Ray turns a loopback
    `_node_ip_address` into that address unless its multi-node support is off (the switch it reads is
    ray_constants.ENABLE_RAY_CLUSTER, env RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER; it changes only the IP choice)."""
    try:
        from ray._private import ray_constants
    except ImportError:  # another Ray layout: its own default address
        yield
        return
    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


def check_resources(available: dict, unit: Unit) -> None:
    """A task asking for more than the whole cluster has would wait forever: refuse it up front."""
    r = unit.entry.resources
    wanted = {"CPU": r.num_cpus, "GPU": r.num_gpus, **r.custom, **({"memory": r.memory} if r.memory else {})}
    for name, amount in wanted.items():
        if amount and amount > available.get(name, 0.0):
            raise FsabenchError(f"model {unit.entry.model} asks for {amount:g} {name} but the Ray cluster has "
                                f"{available.get(name, 0.0):g}",
                                hint="lower its `resources:` in the sweep file, or join a bigger cluster (--ray-address)")


def _task(unit: Unit) -> list[CellOutcome]:
    return run_unit(unit)


def run_ray(units: Sequence[Unit], on_done: Done, address: str | None, num_cpus: int, retries: int = 2,
            save: Callable[[CellOutcome, Unit], None] | None = None) -> list[CellOutcome]:
    """Every cell's outcome; `save` writes a returned RunResult on the driver (units with write=False)."""
    ray, started = start_ray(address, num_cpus)
    try:
        available = ray.cluster_resources()
        for unit in units:
            check_resources(available, unit)
        remote = ray.remote(_task)
        refs = {}
        for unit in units:
            r = unit.entry.resources
            options = {"num_cpus": r.num_cpus, "num_gpus": r.num_gpus, "max_retries": retries,
                       **({"memory": r.memory} if r.memory else {}), **({"resources": dict(r.custom)} if r.custom else {})}
            refs[remote.options(**options).remote(unit)] = unit
        outcomes: list[CellOutcome] = []
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                unit = refs[ref]
                try:
                    found = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the worker died more often than Ray retries
                    cause = str(exc).strip().splitlines()[0][:300]
                    found = [CellOutcome(c, "failed", f"ray task failed after {retries} retries: {cause}")
                             for c in unit.cells]
                for outcome in found:
                    if outcome.payload is not None and save is not None:
                        save(outcome, unit)
                    outcome = replace(outcome, payload=None)
                    outcomes.append(outcome)
                    on_done(outcome)
        return outcomes
    finally:
        if started:
            ray.shutdown()
