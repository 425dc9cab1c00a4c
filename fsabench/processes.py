"""Child processes: ending with their parent (Linux's parent-death signal), for every place that starts
one (sweep workers, engine servers, `serve`'s engine process), and which of them still run (/proc)."""

from __future__ import annotations

import signal
from pathlib import Path


def die_with_parent(signal_number: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `signal_number` to this process when its parent dies (PR_SET_PDEATHSIG).
    Linux only, best effort: elsewhere (or without libc) a no-op. The signal fires when the parent's
    *thread* that forked this process ends, so fork from the main thread."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal_number, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def stat_fields(pid: int | str) -> list[str] | None:
    """/proc/PID/stat's fields after the process name (state, parent, ..., utime and stime at 11 and 12),
    or None when there is no such process or no /proc. Split after the *last* ")": a process name may
    itself hold spaces and parentheses."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace").rpartition(")")[2].split()
    except (OSError, ValueError):
        return None


def process_state(pid: int) -> str | None:
    """The one-letter state of process `pid` ("R", "S", "Z" for a zombie: exited, not yet reaped); None
    when there is no such process or no /proc."""
    fields = stat_fields(pid)
    return fields[0] if fields else None


def is_running(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has, whatever `kill(pid, 0)` says)."""
    state = process_state(pid)
    return state is not None and state != "Z"


def children(pid: int) -> list[int]:
    """The running processes whose parent is `pid` (a scan of /proc: not every kernel has
    /proc/PID/task/*/children); [] without /proc."""
    import os

    found = []
    try:
        entries = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    for name in entries:
        fields = stat_fields(name)  # None: ended meanwhile
        if fields and len(fields) > 1 and fields[1] == str(pid) and fields[0] != "Z":
            found.append(int(name))
    return found
