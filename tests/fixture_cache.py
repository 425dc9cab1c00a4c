"""Model fixtures cached across test runs, keyed by the content of everything that makes them.

Building the tiny T5 (tokenizer training) and fine-tuning it for 400 steps costs about a minute on a
shared 2-core box; every `pytest` run paid it again. A folder built here is reused only when its key
matches: a sha256 over the inputs (training texts, config, steps, seed), the source of the code that
builds it, and the torch / transformers / tokenizers versions. A build happens under a file lock, so
parallel pytest processes (xdist workers, two terminals) build once and never read a half-written
folder; it is written to a temporary folder and renamed into place, with a manifest of file hashes
checked on every reuse (a test that wrote into the folder makes the next run rebuild it).

    FSABENCH_TEST_CACHE=/path   where the folders live [default: ~/.cache/fsabench-tests]
    FSABENCH_TEST_CACHE=off     build into the test's tmp folder every time (the old behaviour)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

MANIFEST = ".fixture-manifest.json"


def cache_root() -> Path | None:
    value = os.environ.get("FSABENCH_TEST_CACHE", "")
    if value.lower() in ("off", "0", "no", "false"):
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "fsabench-tests"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("torch", "transformers", "tokenizers"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def content_key(inputs: object, code: list[Path]) -> str:
    """sha256 over the JSON of the inputs, the code files' bytes and the library versions."""
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode())
    for path in code:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(json.dumps(_versions(), sort_keys=True).encode())
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes: the `filelock` package when installed, else fcntl."""
    try:
        from filelock import FileLock
    except ImportError:
        import fcntl

        with open(path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with FileLock(str(path)):
        yield


def _manifest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def _intact(folder: Path) -> bool:
    try:
        recorded = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == _manifest(folder)


def cached_build(name: str, key: str, build: Callable[[Path], object], fallback: Path) -> Path:
    """The folder `build(folder)` fills, from the cache when an intact copy with this key exists.

    `fallback` is where to build when caching is off.
    """
    root = cache_root()
    if root is None:
        build(fallback)
        return fallback
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{name}-{key[:20]}"
    if _intact(final):
        return final
    with file_lock(root / f"{name}-{key[:20]}.lock"):
        if _intact(final):  # another process built it while we waited
            return final
        staging = root / f".{name}-{key[:20]}.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        build(staging)
        (staging / MANIFEST).write_text(json.dumps(_manifest(staging), indent=1), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)  # a stale or damaged copy
        os.replace(staging, final)
    return final
