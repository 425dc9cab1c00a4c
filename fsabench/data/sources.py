"""Pinned data files: download from their public origin, verify sha256, resume, stay idempotent."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from fsabench.errors import ChecksumError, DataError, UnknownName

RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{origin}"
MIRROR_ENV = "FSABENCH_DATA_URL"  # a URL template with {repo} {commit} {origin}, e.g. an internal mirror
DEFAULT_BUNDLES = ("fsa", "sentibench", "aste-v2", "asqp")  # every bundle a built-in task reads


@dataclass(frozen=True)
class PinnedFile:
    """One file of a bundle: where it lives under the data dir, where it comes from, its sha256."""

    bundle: str
    path: str
    url: str
    sha256: str


def manifest() -> tuple[PinnedFile, ...]:
    """Every pinned file, read from the packaged manifest.yaml."""
    text = resources.files("fsabench.data").joinpath("manifest.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    template = os.environ.get(MIRROR_ENV) or RAW_URL
    files = []
    for bundle, spec in raw["bundles"].items():
        for entry in spec["files"]:
            url = template.format(repo=spec["repo"], commit=spec["commit"], origin=entry["origin"])
            files.append(PinnedFile(bundle, entry["path"], url, entry["sha256"]))
    return tuple(files)


def bundles() -> list[str]:
    return sorted({f.bundle for f in manifest()})


def pinned_files(selected: Iterable[str] = DEFAULT_BUNDLES) -> list[PinnedFile]:
    """The pinned files of the named bundles ('all' selects every bundle)."""
    selected = list(selected)
    if "all" in selected:
        selected = bundles()
    for name in selected:
        if name not in bundles():
            raise UnknownName("data bundle", name, bundles() + ["all"])
    return [f for f in manifest() if f.bundle in selected]


def expected_sha256(relpath: str) -> str | None:
    """The pinned sha256 of a data-dir relative path, or None when the file is not pinned."""
    for f in manifest():
        if f.path == relpath:
            return f.sha256
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileStatus:
    path: str
    state: str  # ok | missing | mismatch | downloaded


def verify(data_root: Path, files: Iterable[PinnedFile]) -> list[FileStatus]:
    """Re-check each pinned file under data_root: ok, missing or mismatch."""
    statuses = []
    for f in files:
        local = data_root / f.path
        if not local.is_file():
            statuses.append(FileStatus(f.path, "missing"))
        elif sha256_file(local) != f.sha256:
            statuses.append(FileStatus(f.path, "mismatch"))
        else:
            statuses.append(FileStatus(f.path, "ok"))
    return statuses


def _download(url: str, partial: Path, timeout: float) -> None:
    """Fetch url into `partial`, resuming from its current size with an HTTP Range request."""
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "fsabench"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (pinned https URL)
        mode = "ab" if have and response.status == 206 else "wb"
        with open(partial, mode) as handle:
            for block in iter(lambda: response.read(1 << 16), b""):
                handle.write(block)


def pull(
    data_root: Path,
    files: Iterable[PinnedFile],
    timeout: float = 30.0,
    on_file: Callable[[FileStatus], None] | None = None,
) -> list[FileStatus]:
    """Download every missing or corrupt file, verify its sha256, move it into place atomically.

    Files already present with the right checksum are left alone (idempotent); an interrupted
    download leaves `<file>.part` behind and the next pull resumes it.
    """
    statuses = []
    for f in files:
        local = data_root / f.path
        if local.is_file() and sha256_file(local) == f.sha256:
            status = FileStatus(f.path, "ok")
        else:
            local.parent.mkdir(parents=True, exist_ok=True)
            partial = local.with_name(local.name + ".part")
            try:
                _download(f.url, partial, timeout)
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise DataError(
                    f"could not download {f.url}: {reason}",
                    hint="check the internet connection and run `fsabench data pull` again "
                    "(it resumes), or point FSABENCH_DATA_DIR / --data-dir at a copy of the data",
                ) from None
            if sha256_file(partial) != f.sha256:
                partial.unlink(missing_ok=True)
                raise ChecksumError(
                    f"{f.url}: downloaded bytes do not match the pinned sha256 {f.sha256[:12]}...",
                    hint="run `fsabench data pull` again; if it persists the origin changed, report it",
                )
            os.replace(partial, local)
            status = FileStatus(f.path, "downloaded")
        statuses.append(status)
        if on_file:
            on_file(status)
    return statuses
