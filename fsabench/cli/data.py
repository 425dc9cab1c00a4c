"""`fsabench data pull|verify|path`: parse, call `fsabench.api`, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fsabench.cli.common import DataDir, JsonOut, Quiet, group

data_app = group("data", "Download, verify and locate benchmark data.")
Bundles = Annotated[str, typer.Option("--bundles", help="comma-separated: fsa, sentibench, aste-v2, asqp, all")]


@data_app.command("pull")
def data_pull(data_dir: DataDir = None, bundles: Bundles = "fsa,sentibench,aste-v2,asqp", json_out: JsonOut = False,
              quiet: Quiet = False) -> None:
    """Download the pinned benchmark files, verify each sha256 (idempotent, resumes)."""
    from fsabench.api import pull_data
    from fsabench.console import emit_json, err, out
    from fsabench.options import DataOptions

    show = (lambda s: err.print(f"{s.state:<10} {s.path}", highlight=False)) if not (json_out or quiet) else None
    root, statuses = pull_data(DataOptions(data_dir=data_dir, bundles=bundles), on_file=show)
    if json_out:
        emit_json({"data_dir": str(root), "files": [s.__dict__ for s in statuses]})
    else:
        fetched = sum(s.state == "downloaded" for s in statuses)
        out.print(f"{len(statuses)} files verified in {root} ({fetched} downloaded)", highlight=False)


@data_app.command("verify")
def data_verify(data_dir: DataDir = None, bundles: Bundles = "fsa,sentibench,aste-v2,asqp", json_out: JsonOut = False,
                quiet: Quiet = False) -> None:
    """Re-check every pinned file's sha256; exit 1 if any is missing or changed."""
    from fsabench.api import verify_data
    from fsabench.console import emit_json, err, out
    from fsabench.errors import ChecksumError
    from fsabench.options import DataOptions

    root, statuses = verify_data(DataOptions(data_dir=data_dir, bundles=bundles))
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


@data_app.command("path")
def data_path(data_dir: DataDir = None) -> None:
    """Print the data directory."""
    from fsabench.settings import data_dir as resolve

    typer.echo(str(resolve(data_dir).resolve()))  # absolute: where a relative --data-dir really points


@data_app.command("hash")
def data_hash(files: Annotated[list[Path], typer.Argument(help="data files of your own")], json_out: JsonOut = False) -> None:
    """Print each FILE's sha256: the value to pin it with in a task's `data.sha256`."""
    from fsabench.api import hash_data_files
    from fsabench.console import emit_json

    digests = hash_data_files(files)
    if json_out:
        emit_json(digests)
    else:
        for path, digest in digests.items():
            typer.echo(f"{digest}  {path}")
