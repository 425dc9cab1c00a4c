"""How many CPU threads torch may use: explicit, else FSABENCH_THREADS, else the physical cores we may run on.

torch's default (every logical CPU of the machine) oversubscribes shared and containerised machines: on a
loaded 2-core box it made a 5-minute test suite take 35 minutes. `run`, `serve` and distillation set it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def physical_cores() -> int:
    """Distinct (package, core) pairs among the CPUs this process may run on; logical count as a fallback."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topology.joinpath("physical_package_id").read_text().strip(),
                       topology.joinpath("core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


def resolve_threads(explicit: int | None = None) -> int:
    env = os.environ.get("FSABENCH_THREADS", "").strip()
    if explicit is not None:
        return max(1, int(explicit))
    if env.isdigit() and int(env) > 0:
        return int(env)
    return physical_cores()


def use_threads(explicit: int | None = None) -> int:
    """Apply the thread count to torch when it is (or will be) loaded; returns the count used."""
    count = resolve_threads(explicit)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if explicit is not None or var not in os.environ:
            os.environ[var] = str(count)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(count)
    return count
