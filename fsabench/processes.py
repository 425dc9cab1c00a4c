"""Child processes that end with their parent (Linux's parent-death signal), for every place that
starts one: sweep workers, engine servers, `serve`'s engine process."""

from __future__ import annotations

import signal


def die_with_parent(signal_number: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `signal_number` to this process when its parent dies (PR_SET_PDEATHSIG).
    Linux only, best effort: elsewhere (or without libc) a no-op. The signal fires when the parent's
    *thread* that forked this process ends, so fork from the main thread."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal_number, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
