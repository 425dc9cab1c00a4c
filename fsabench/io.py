"""Atomic file writes: nothing a user computed is half-written by a crash or a full disk."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write bytes to a temp file beside `path`, fsync it, then os.replace it into place.

    The file gets the permissions a plain `open(path, "w")` would (0666 minus the umask), not mkstemp's
    0600: results, reports and exports are meant to be read by others."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 text, `\n` line ends, written atomically (see write_bytes_atomic)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    """Write JSON (UTF-8, indented, keys in insertion order) atomically."""
    return write_text_atomic(path, json.dumps(payload, ensure_ascii=False, indent=1) + "\n")


def as_path(value: Any, what: str) -> Path:
    """A path argument from Python: str or os.PathLike, else one FsabenchError naming the argument."""
    from fsabench.errors import FsabenchError

    if isinstance(value, (str, os.PathLike)) and str(value) != "":
        return Path(value)
    raise FsabenchError(f"{what} must be a path (str or pathlib.Path), not {type(value).__name__} {value!r:.40}",
                        hint=f"pass {what} as a string or Path")


def as_paths(values: Any, what: str) -> list[Path]:
    """One path or a list of paths: a lone string is one path, never iterated per character."""
    from fsabench.errors import FsabenchError

    if isinstance(values, (str, os.PathLike)):
        return [as_path(values, what)]
    if isinstance(values, (list, tuple, set, frozenset)) or (hasattr(values, "__iter__") and not isinstance(
            values, (bytes, dict))):
        return [as_path(v, what) for v in values]
    raise FsabenchError(f"{what} must be a path or a list of paths, not {type(values).__name__}",
                        hint=f"e.g. {what}=['runs/'] or {what}='runs/'")


def files_under(paths: list[str | os.PathLike], pattern: str, missing: type[Exception], hint: str) -> list[Path]:
    """The files given plus every `pattern` file below the folders given (sorted; hidden and `_` bases
    skipped); a path that does not exist raises `missing(message, hint=...)`."""
    found: list[Path] = []
    for raw in as_paths(paths, "paths"):
        path = Path(raw)
        if path.is_dir():
            found += sorted(q for q in path.rglob(pattern) if not q.name.startswith((".", "_")))
        elif path.exists():
            found.append(path)
        else:
            raise missing(f"{path}: no such file or folder", hint=hint)
    return found
