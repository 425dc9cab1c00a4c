"""`fsabench leaderboard submit | verify | build | serve`: bundles in, verified tables and sites out."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fsabench.errors import from_validation
from fsabench.console import emit_json, err, out
from fsabench.io import write_bytes_atomic
from fsabench.leaderboard.spec import Leaderboard, Limits, available, leaderboards_dir, load_leaderboard
from fsabench.leaderboard.submission import (EntryInfo, SubmissionError, build_bundle, bundle_files, bundle_gzip,
                                             bundle_json, read_bundle_bytes)
from fsabench.leaderboard.verify import Verified, Verifier
from fsabench.results import find_results, load_result
from fsabench.settings import data_dir as resolve_data_dir


def _emit(payload: Any) -> None:
    emit_json(payload)


def make_entry(results, fields: dict[str, Any]) -> EntryInfo:
    """Entry metadata from the options; parameter count and date default to what the runs record."""
    fields = {k: v for k, v in fields.items() if v is not None}
    counts = {r.model.parameters for r in results}
    if "parameters" not in fields and len(counts) == 1 and None not in counts:
        fields["parameters"] = counts.pop()
    if "date" not in fields and results:
        fields["date"] = max(r.timing.finished for r in results)[:10]
    try:
        return EntryInfo.model_validate(fields)
    except ValidationError as exc:
        option = "--" + str(exc.errors()[0]["loc"][0]).replace("_", "-")
        raise from_validation(f"option {option}", exc, "see `fsabench leaderboard submit --help`", SubmissionError,
                              field_prefix="value ") from None


def submit_command(runs: list[Path], leaderboard: str, entry_fields: dict[str, Any], output: Path | None,
                   overwrite: bool, lb_dir: Path | None, data_dir: Path | None, tasks_dir: list[str] | None,
                   json_out: bool, gzip: bool = False) -> None:
    """Bundle RunResults with the entry's metadata, verify the bundle exactly as CI will, write it
    (gzipped as `<slug>.json.gz` with `gzip`, or when `output` ends in `.gz`)."""
    board = load_leaderboard(leaderboard, lb_dir, tasks_dir)
    results = [load_result(p) for p in find_results([str(r) for r in runs])]
    if not results:
        raise SubmissionError("no RunResult files found in " + ", ".join(map(str, runs)), hint="pass `fsabench run` outputs")
    entry = make_entry(results, entry_fields)
    text = bundle_json(build_bundle(board.name, entry, results))
    verified = Verifier(board, resolve_data_dir(data_dir)).verify_bytes(text.encode("utf-8"), f"submission {entry.name!r}")
    gzip = gzip or (output is not None and output.name.endswith(".gz"))
    path = output or board.submissions_dir / f"{verified.slug}.json{'.gz' if gzip else ''}"
    if path.exists() and not overwrite:
        raise SubmissionError(f"{path} already exists", hint="pass --overwrite to replace it, or choose another --name")
    twin = path.parent / f"{verified.slug}.json{'' if gzip else '.gz'}"
    if output is None and twin.exists() and not overwrite:
        raise SubmissionError(f"{twin} already holds this entry", hint="pass --overwrite to replace it")
    data = bundle_gzip(text) if gzip else text.encode("utf-8")
    write_bytes_atomic(path, data)
    if output is None and twin.exists():
        twin.unlink()  # one file per entry: the other form is replaced, not kept beside it
    path.chmod(0o644)  # a file for a pull request, not a secret
    if json_out:
        _emit({"accepted": True, "file": str(path), "slug": verified.slug, "row": verified.row})
        return
    plain = {"markup": False, "highlight": False, "soft_wrap": True}  # names are data, not rich markup
    out.print(f"accepted: {entry.name} ({entry.category}) {board.spec.score.label} {verified.row['score']} "
              f"from {len(results)} runs, re-scored from their outputs", **plain)
    out.print(f"wrote {path} ({len(data):,} bytes): open a pull request with it", **plain)


def submission_files(board: Leaderboard) -> list[Path]:
    """The board's bundles (audits live apart, in audits/)."""
    return bundle_files(board.submissions_dir)


def _targets(path: Path | None, leaderboard: str | None, lb_dir: Path | None,
             tasks_dir: list[str] | None) -> list[tuple[Leaderboard, list[Path]]]:
    """Which bundles to check against which leaderboard: all of them, a folder, or one file."""
    if path is None:
        names = [leaderboard] if leaderboard else available(leaderboards_dir(lb_dir))
        boards = [load_leaderboard(n, lb_dir, tasks_dir) for n in names]
        return [(b, submission_files(b)) for b in boards]
    if path.is_dir() and (path / "leaderboard.yaml").is_file():
        board = load_leaderboard(path.name, path.parent, tasks_dir)
        return [(board, submission_files(board))]
    files = bundle_files(path) if path.is_dir() else [path]
    if not path.exists():
        raise SubmissionError(f"{path}: no such file or folder", hint="check the path")
    boards: dict[str, tuple[Leaderboard, list[Path]]] = {}
    for file in files:
        name = leaderboard or _bundle_leaderboard(file)
        folder = file.parent.parent if file.parent.name == "submissions" and (file.parent.parent / "leaderboard.yaml").is_file() else None
        if name not in boards:
            boards[name] = (load_leaderboard(name, folder.parent if folder else lb_dir, tasks_dir), [])
        boards[name][1].append(file)
    return list(boards.values())


def _bundle_leaderboard(path: Path) -> str:
    """The leaderboard a bundle names: its folder when it sits in one, else its `leaderboard` field."""
    folder = path.parent.parent
    if path.parent.name == "submissions" and (folder / "leaderboard.yaml").is_file():
        return folder.name
    try:
        name = json.loads(read_bundle_bytes(path, Limits())).get("leaderboard")
        if isinstance(name, str) and name:
            return name
    except (OSError, ValueError, AttributeError, SubmissionError):
        pass
    raise SubmissionError(f"{path}: cannot tell which leaderboard the bundle is for", hint="pass --leaderboard NAME")


def verify_all(targets, data_dir: Path | None) -> tuple[list[tuple[Path, Verified]], list[tuple[Path, str]]]:
    good, bad = [], []
    root = resolve_data_dir(data_dir)
    for board, files in targets:
        verifier = Verifier(board, root)
        for file in files:
            try:
                good.append((file, verifier.verify_file(file)))
            except SubmissionError as exc:
                bad.append((file, str(exc)))
    return good, bad


def verify_command(path: Path | None, leaderboard: str | None, lb_dir: Path | None, data_dir: Path | None,
                   tasks_dir: list[str] | None, json_out: bool) -> int:
    """Re-check bundles (what the maintainers' CI runs); exit code 1 when any is rejected."""
    targets = _targets(path, leaderboard, lb_dir, tasks_dir)
    if not any(files for _, files in targets):
        places = [str(b.submissions_dir) for b, _ in targets] or [str(path or leaderboards_dir(lb_dir))]
        raise SubmissionError(f"nothing to verify: no submission files in {', '.join(places)}",
                              hint="pass a bundle file or folder, or run from the repository root")
    good, bad = verify_all(targets, data_dir)
    if json_out:
        _emit({"accepted": [{"file": str(f), "slug": v.slug, "score": v.row["score"]} for f, v in good],
               "rejected": [{"file": str(f), "error": e} for f, e in bad]})
    else:
        for file, verified in good:
            out.print(f"ok       {file}  {verified.bundle.entry.name}  {verified.row['score']}",
                      markup=False, highlight=False, soft_wrap=True)
        for file, message in bad:
            out.print(f"REJECTED {message}", markup=False, highlight=False, soft_wrap=True)
        out.print(f"{len(good)} accepted, {len(bad)} rejected", markup=False, soft_wrap=True)
    if not good and not bad:
        err.print("no submissions found")
    if bad:  # an error, not just an exit code: the CLI turns it into one line and exit code 1
        raise SubmissionError(f"{len(bad)} of {len(good) + len(bad)} submissions rejected",
                              hint="each REJECTED line says what failed")
    return 0


def build_command(name: str, out_dir: Path, lb_dir: Path | None, data_dir: Path | None,
                  tasks_dir: list[str] | None, json_out: bool) -> None:
    """Verify every bundle of a leaderboard, then render its static site."""
    from fsabench.leaderboard.site import build_site

    board = load_leaderboard(name, lb_dir, tasks_dir)
    good, bad = verify_all([(board, submission_files(board))], data_dir)
    if bad:
        raise SubmissionError(f"{len(bad)} submission(s) fail verification; first: {bad[0][1]}",
                              hint="fix or remove them (`fsabench leaderboard verify`)")
    index = build_site(board, [v for _, v in good], out_dir, built=dt.datetime.now(dt.timezone.utc))
    if json_out:
        _emit({"index": str(index), "entries": len(good)})
    else:
        out.print(f"built {index} ({len(good)} entries); open it in a browser (works from file://)",
                  markup=False, soft_wrap=True)


def serve_command(name: str, host: str, port: int, db: Path | None, tokens_file: Path | None,
                  lb_dir: Path | None, data_dir: Path | None, tasks_dir: list[str] | None,
                  import_folder: bool, trusted_proxies: tuple[str, ...] = (), quiet: bool = False,
                  reads_per_minute: int = 600, posts_per_minute: int = 6) -> None:
    from fsabench.leaderboard.service import serve

    board = load_leaderboard(name, lb_dir, tasks_dir)
    try:
        serve(board, resolve_data_dir(data_dir), host=host, port=port, db_path=db, tokens_file=tokens_file,
              import_files=submission_files(board) if import_folder else None, trusted_proxies=trusted_proxies,
              quiet=quiet, reads_per_minute=reads_per_minute, posts_per_minute=posts_per_minute)
    except OSError as exc:
        raise SubmissionError(f"cannot listen on {host}:{port} ({exc.strerror})",
                              hint="pick another --port, or stop what uses it") from None
