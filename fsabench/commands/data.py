"""`fsabench data pull|verify`."""

from __future__ import annotations

from pathlib import Path

from fsabench.console import emit_json, err, out
from fsabench.data import sources
from fsabench.errors import ChecksumError
from fsabench.settings import data_dir as resolve


def _selected(bundles: str) -> list[sources.PinnedFile]:
    return sources.pinned_files([b.strip() for b in bundles.split(",") if b.strip()])


def pull_data(data_dir: Path | None, bundles: str, json_out: bool) -> None:
    root = resolve(data_dir)
    files = _selected(bundles)
    show = (lambda s: err.print(f"{s.state:<10} {s.path}", highlight=False)) if not json_out else None
    statuses = sources.pull(root, files, on_file=show)
    if json_out:
        emit_json({"data_dir": str(root), "files": [s.__dict__ for s in statuses]})
    else:
        fetched = sum(s.state == "downloaded" for s in statuses)
        out.print(f"{len(statuses)} files verified in {root} ({fetched} downloaded)", highlight=False)


def verify_data(data_dir: Path | None, bundles: str, json_out: bool) -> None:
    root = resolve(data_dir)
    statuses = sources.verify(root, _selected(bundles))
    bad = [s for s in statuses if s.state != "ok"]
    if json_out:
        emit_json({"data_dir": str(root), "files": [s.__dict__ for s in statuses]})
    else:
        for s in bad:
            err.print(f"{s.state:<10} {s.path}", highlight=False)
        out.print(f"{len(statuses) - len(bad)}/{len(statuses)} files ok in {root}", highlight=False)
    if bad:
        raise ChecksumError(f"{len(bad)} data files are missing or changed under {root} (first: {bad[0].path})",
                            hint="run `fsabench data pull` to fetch or restore them")
