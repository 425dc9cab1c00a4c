"""What pins a model's weights without loading them (no torch here): a folder's or a file's fingerprint."""

from __future__ import annotations

import hashlib
from pathlib import Path


def local_fingerprint(path: Path) -> str:
    """Hash of config/tokenizer contents and weight file sizes + mtimes: a retrained model in the same
    folder gets a new identity, so a cache never serves an old model's answers."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(file.relative_to(path).as_posix().encode())
        if file.suffix in (".json", ".txt", ".model") and stat.st_size < 50_000_000:
            digest.update(file.read_bytes())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def file_fingerprint(path: Path, head: int = 1 << 20) -> str:
    """A weights file (GGUF): its size and a hash of its first and last MiB (the header holds the
    architecture, tokenizer and quantisation; the tail changes with any other weights of that size)."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(head))
        if size > 2 * head:
            handle.seek(size - head)
            digest.update(handle.read(head))
    return digest.hexdigest()


def path_fingerprint(target: str) -> str | None:
    """The fingerprint of a local model folder or weights file; None for a hub id."""
    path = Path(target).expanduser()
    if path.is_dir():
        return local_fingerprint(path)
    if path.is_file():
        return file_fingerprint(path)
    return None


def hub_commit(repo_id: str, revision: str | None = None, filename: str = "config.json") -> str | None:
    """The commit of the hub snapshot `repo_id` (at `revision`, default `main`) resolves to in the local hub
    cache: what transformers loaded, once it has loaded it (online it fetches the snapshot first; offline it
    reads `refs/<revision>`). None when the id is not a hub id or the file is not in the cache. A branch name
    moves; this pins the weights a result was made with, as the fingerprint pins a local folder."""
    import re

    try:
        from huggingface_hub import try_to_load_from_cache
        found = try_to_load_from_cache(repo_id, filename, revision=revision)
    except (ImportError, ValueError, OSError):  # not installed, or not a valid repo id
        return None
    if not isinstance(found, str):
        return None
    match = re.search(r"/snapshots/([0-9a-f]{40})/", Path(found).as_posix())
    return match.group(1) if match else None
