"""The leaderboard verbs as library calls: submit, verify, build, serve and audit a bundle.

Each takes its typed options object (fsabench.options) and returns plain values; the CLI prints them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fsabench.errors import from_validation
from fsabench.io import parse_json, write_bytes_atomic, write_text_atomic
from fsabench.leaderboard.spec import Leaderboard, SubmissionLimits, available, leaderboards_dir, load_leaderboard
from fsabench.leaderboard.submission import (EntryInfo, SubmissionError, build_bundle, bundle_files, bundle_gzip,
                                             bundle_json, read_bundle_bytes)
from fsabench.leaderboard.verify import Verified, Verifier
from fsabench.options import AuditOptions, BoardServeOptions, BuildOptions, SubmitOptions, VerifyOptions
from fsabench.results import find_results, load_result
from fsabench.settings import data_dir as resolve_data_dir


def _tasks_dir(options) -> list[str] | None:
    return list(options.tasks_dir) or None


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


@dataclass(frozen=True)
class Submitted:
    """A written submission: where, how many bytes, and the verified row."""

    path: Path
    size: int
    runs: int
    entry: EntryInfo
    verified: Verified
    board: Leaderboard


def submit(options: SubmitOptions) -> Submitted:
    """Bundle RunResults with the entry's metadata, verify the bundle exactly as CI will, write it
    (gzipped as `<slug>.json.gz` with `gzip`, or when `output` ends in `.gz`)."""
    board = load_leaderboard(options.leaderboard, options.leaderboards_dir, _tasks_dir(options))
    results = [load_result(p) for p in find_results([str(r) for r in options.runs])]
    if not results:
        raise SubmissionError("no RunResult files found in " + ", ".join(map(str, options.runs)),
                              hint="pass `fsabench run` outputs")
    entry = make_entry(results, options.entry.fields_dict())
    text = bundle_json(build_bundle(board.name, entry, results))
    verified = Verifier(board, resolve_data_dir(options.data_dir)).verify_bytes(text.encode("utf-8"),
                                                                                f"submission {entry.name!r}")
    output, overwrite = options.output, options.overwrite
    gzip = options.gzip or (output is not None and output.name.endswith(".gz"))
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
    return Submitted(path, len(data), len(results), entry, verified, board)


def submission_files(board: Leaderboard) -> list[Path]:
    """The board's bundles (audits live apart, in audits/)."""
    return bundle_files(board.submissions_dir)


def targets(path: Path | None, leaderboard: str | None, lb_dir: Path | None,
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
        name = leaderboard or bundle_leaderboard(file)
        folder = file.parent.parent if file.parent.name == "submissions" and (file.parent.parent / "leaderboard.yaml").is_file() else None
        if name not in boards:
            boards[name] = (load_leaderboard(name, folder.parent if folder else lb_dir, tasks_dir), [])
        boards[name][1].append(file)
    return list(boards.values())


def bundle_leaderboard(path: Path) -> str:
    """The leaderboard a bundle names: its folder when it sits in one, else its `leaderboard` field."""
    folder = path.parent.parent
    if path.parent.name == "submissions" and (folder / "leaderboard.yaml").is_file():
        return folder.name
    try:
        name = parse_json(read_bundle_bytes(path, SubmissionLimits()), str(path), error=SubmissionError).get("leaderboard")
        if isinstance(name, str) and name:
            return name
    except (OSError, ValueError, AttributeError, SubmissionError):
        pass
    raise SubmissionError(f"{path}: cannot tell which leaderboard the bundle is for", hint="pass --leaderboard NAME")


def verify_all(found, data_dir: Path | None) -> tuple[list[tuple[Path, Verified]], list[tuple[Path, str]]]:
    good, bad = [], []
    root = resolve_data_dir(data_dir)
    for board, files in found:
        verifier = Verifier(board, root)
        for file in files:
            try:
                good.append((file, verifier.verify_file(file)))
            except SubmissionError as exc:
                bad.append((file, str(exc)))
    return good, bad


def verify(options: VerifyOptions) -> tuple[list[tuple[Path, Verified]], list[tuple[Path, str]]]:
    """Re-check bundles (what the maintainers' CI runs): (accepted, rejected); nothing to check is an error."""
    found = targets(options.path, options.leaderboard, options.leaderboards_dir, _tasks_dir(options))
    if not any(files for _, files in found):
        places = [str(b.submissions_dir) for b, _ in found] or [str(options.path or leaderboards_dir(options.leaderboards_dir))]
        raise SubmissionError(f"nothing to verify: no submission files in {', '.join(places)}",
                              hint="pass a bundle file or folder, or run from the repository root")
    return verify_all(found, options.data_dir)


def rejected_error(good: list, bad: list) -> SubmissionError:
    return SubmissionError(f"{len(bad)} of {len(good) + len(bad)} submissions rejected",
                           hint="each REJECTED line says what failed")


def build(options: BuildOptions) -> tuple[Path, int]:
    """Verify every bundle of a leaderboard, then render its static site: (index.html, entries)."""
    from fsabench.leaderboard.site import build_site

    board = load_leaderboard(options.name, options.leaderboards_dir, _tasks_dir(options))
    good, bad = verify_all([(board, submission_files(board))], options.data_dir)
    if bad:
        raise SubmissionError(f"{len(bad)} submission(s) fail verification; first: {bad[0][1]}",
                              hint="fix or remove them (`fsabench leaderboard verify`)")
    index = build_site(board, [v for _, v in good], options.output, built=dt.datetime.now(dt.timezone.utc))
    return index, len(good)


def serve(options: BoardServeOptions) -> None:
    """Host the leaderboard until SIGINT/SIGTERM."""
    from fsabench.leaderboard.service import serve as serve_board

    board = load_leaderboard(options.name, options.leaderboards_dir, _tasks_dir(options))
    try:
        serve_board(board, resolve_data_dir(options.data_dir), host=options.host, port=options.port,
                    db_path=options.db, tokens_file=options.tokens_file,
                    import_files=submission_files(board) if options.import_folder else None,
                    trusted_proxies=options.trusted_proxies, quiet=options.quiet,
                    reads_per_minute=options.reads_per_minute, posts_per_minute=options.posts_per_minute)
    except OSError as exc:
        raise SubmissionError(f"cannot listen on {options.host}:{options.port} ({exc.strerror})",
                              hint="pick another --port, or stop what uses it") from None


@dataclass(frozen=True)
class Audited:
    path: Path
    audit: Any
    verified: Verified

    def summary(self) -> dict[str, Any]:
        a = self.audit
        return {"file": str(self.path), "passed": a.passed, "badge": a.badge(), "n": a.n, "identical": a.identical,
                "f1_submitted": a.f1_submitted, "f1_reproduced": a.f1_reproduced, "agreement_f1": a.agreement_f1,
                "identity_mismatch": a.identity_mismatch}


def audit(options: AuditOptions) -> Audited:
    """Verify the bundle, audit it, store the audit next to the leaderboard's submissions (a failed audit is
    stored too: it marks the entry); the caller decides what a failure means (`audit_failure`)."""
    from fsabench.leaderboard.audit import audit_json, audit_path, run_audit

    submission = options.submission
    if not submission.is_file():
        raise SubmissionError(f"{submission}: no such submission file", hint="pass a submissions/<slug>.json (or .json.gz) bundle")
    name = options.leaderboard or bundle_leaderboard(submission)
    folder = submission.parent.parent
    in_board = submission.parent.name == "submissions" and (folder / "leaderboard.yaml").is_file()
    board = load_leaderboard(name, folder.parent if in_board else options.leaderboards_dir, _tasks_dir(options))
    root = resolve_data_dir(options.data_dir)
    raw = read_bundle_bytes(submission, board.spec.limits)
    verified = Verifier(board, root).verify_bytes(raw, str(submission))
    result = run_audit(board, root, verified, raw, sample=options.sample, seed=options.seed)
    path = options.output or audit_path(board, verified.slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, audit_json(result))
    path.chmod(0o644)
    return Audited(path, result, verified)


def audit_failure(submission: Path, audit: Any) -> SubmissionError:
    why = (f"model identity changed for {', '.join(audit.identity_mismatch)}" if audit.identity_mismatch else
           f"{audit.identical}/{audit.n} identical (needs {audit.min_identical:.0%}), agreement F1 "
           f"{audit.agreement_f1} (needs {audit.min_agreement_f1})")
    return SubmissionError(f"{submission}: audit failed: {why}; the entry is marked as failing its audit",
                           hint="the submitted outputs do not come from the claimed model with the recorded settings")

