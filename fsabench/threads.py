"""How many CPU threads torch (and llama.cpp) may use: explicit (`--threads`), else FSABENCH_THREADS, else
OMP_NUM_THREADS (the knob every BLAS user already knows), else the physical cores we may run on.

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


def requested_threads(explicit: int | None = None) -> int | None:
    """The count the user asked for, if any: `--threads`, else FSABENCH_THREADS, else OMP_NUM_THREADS.

    Why OMP_NUM_THREADS too: a user (or a benchmark) that exports OMP_NUM_THREADS=1 means one thread; before,
    the first `evaluate()` reset torch to the physical cores behind their back, so `hf:` at "one thread" ran
    its matrix products on two cores (MKL's OpenMP team) while llama.cpp obeyed the variable."""
    if explicit is not None:
        return max(1, int(explicit))
    for var in ("FSABENCH_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def resolve_threads(explicit: int | None = None) -> int:
    requested = requested_threads(explicit)
    return requested if requested is not None else physical_cores()


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
