"""Where things live: data, cache and task directories, each with a FSABENCH_* environment twin."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "fsabench"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory: --data-dir, else FSABENCH_DATA_DIR, else the user cache directory."""
    if explicit is not None and explicit != "":
        from fsabench.io import as_path

        return as_path(explicit, "data_dir").expanduser()
    env = os.environ.get("FSABENCH_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir(APP)) / "data"


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The response-cache directory: --cache-dir, else FSABENCH_CACHE_DIR, else the user cache dir."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("FSABENCH_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir(APP)) / "cache"


def extra_task_dirs(explicit: list[str] | None = None) -> list[Path]:
    """User task directories: every --tasks-dir, then FSABENCH_TASKS_PATH (os.pathsep separated)."""
    from fsabench.io import as_paths

    dirs = [d.expanduser() for d in (as_paths(explicit, "tasks_dir") if explicit else [])]
    env = os.environ.get("FSABENCH_TASKS_PATH", "")
    dirs += [Path(d).expanduser() for d in env.split(os.pathsep) if d.strip()]
    return dirs
