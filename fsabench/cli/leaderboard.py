"""`fsabench leaderboard submit|verify|audit|build|serve`: options -> `fsabench.api` -> printed lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.cli.common import DataDir, JsonOut, Quiet, TasksDir, group

leaderboard_app = group("leaderboard", "Submit, verify, publish and host leaderboards of verified results.")
LeaderboardsDir = Annotated[Optional[Path], typer.Option("--leaderboards-dir", envvar="FSABENCH_LEADERBOARDS_DIR",
                            help="folder holding <name>/leaderboard.yaml [env FSABENCH_LEADERBOARDS_DIR; default ./leaderboards]")]
PLAIN = {"markup": False, "highlight": False, "soft_wrap": True}  # names are data, not rich markup


def _where(leaderboards_dir, data_dir, tasks_dir) -> dict:
    return {"leaderboards_dir": leaderboards_dir, "data_dir": data_dir, "tasks_dir": tuple(tasks_dir or ())}


@leaderboard_app.command("submit")
def leaderboard_submit(
    runs: Annotated[list[Path], typer.Argument(help="RunResult JSON files or folders (every task; every seed)")],
    leaderboard: Annotated[str, typer.Option("--leaderboard", "-l", help="leaderboard name, e.g. fsa")],
    name: Annotated[str, typer.Option("--name", help="display name of the entry (plain text)")],
    category: Annotated[str, typer.Option("--category", help="one of the leaderboard's categories, e.g. fine-tuned")],
    parameters: Annotated[Optional[int], typer.Option("--parameters", help="parameter count [default: from the runs]")] = None,
    base_model: Annotated[Optional[str], typer.Option("--base-model", help="what the model was built from")] = None,
    link: Annotated[Optional[str], typer.Option("--link", help="http(s) page about the model")] = None,
    license: Annotated[Optional[str], typer.Option("--license", help="the model's license")] = None,
    date: Annotated[Optional[str], typer.Option("--date", help="YYYY-MM-DD [default: when the runs finished]")] = None,
    notes: Annotated[Optional[str], typer.Option("--notes", help="free text shown on the model page")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="write here instead of submissions/<slug>.json (a name ending .gz is gzipped)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing submission file")] = False,
    gzip: Annotated[bool, typer.Option("--gzip", help="write submissions/<slug>.json.gz (the same JSON, gzipped; "
                                       "for large multi-seed entries)")] = False,
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Bundle RunResults with metadata, verify them (hashes, coverage, re-scored outputs) and write the submission."""
    from fsabench.api import submit
    from fsabench.console import emit_json, out
    from fsabench.options import EntryFields, SubmitOptions

    entry = EntryFields.model_construct(name=name, category=category, parameters=parameters, base_model=base_model,
                                        link=link, license=license, date=date, notes=notes)
    done = submit(SubmitOptions(runs=tuple(runs), leaderboard=leaderboard, entry=entry, output=output,
                                overwrite=overwrite, gzip=gzip, **_where(leaderboards_dir, data_dir, tasks_dir)))
    if json_out:
        emit_json({"accepted": True, "file": str(done.path), "slug": done.verified.slug, "row": done.verified.row})
        return
    out.print(f"accepted: {done.entry.name} ({done.entry.category}) {done.board.spec.score.label} "
              f"{done.verified.row['score']} from {done.runs} runs, re-scored from their outputs", **PLAIN)
    out.print(f"wrote {done.path} ({done.size:,} bytes): open a pull request with it", **PLAIN)


@leaderboard_app.command("verify")
def leaderboard_verify(
    path: Annotated[Optional[Path], typer.Argument(help="a submission file or folder [default: every leaderboard's submissions]")] = None,
    leaderboard: Annotated[Optional[str], typer.Option("--leaderboard", "-l", help="check against this leaderboard")] = None,
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Re-check submissions (schema, hashes, coverage, re-scored outputs); exit 1 if any is rejected."""
    from fsabench.api import verify
    from fsabench.console import emit_json, err, out
    from fsabench.leaderboard.actions import rejected_error
    from fsabench.options import VerifyOptions

    good, bad = verify(VerifyOptions(path=path, leaderboard=leaderboard,
                                     **_where(leaderboards_dir, data_dir, tasks_dir)))
    if json_out:
        emit_json({"accepted": [{"file": str(f), "slug": v.slug, "score": v.row["score"]} for f, v in good],
                   "rejected": [{"file": str(f), "error": e} for f, e in bad]})
    else:
        for file, verified in good:
            out.print(f"ok       {file}  {verified.bundle.entry.name}  {verified.row['score']}", **PLAIN)
        for file, message in bad:
            out.print(f"REJECTED {message}", **PLAIN)
        out.print(f"{len(good)} accepted, {len(bad)} rejected", markup=False, soft_wrap=True)
    if not good and not bad:
        err.print("no submissions found")
    if bad:  # an error, not just an exit code: the CLI turns it into one line and exit code 1
        raise rejected_error(good, bad)


@leaderboard_app.command("audit")
def leaderboard_audit(
    submission: Annotated[Path, typer.Argument(help="a submission bundle (submissions/<slug>.json or .json.gz)")],
    sample: Annotated[int, typer.Option("--sample", help="examples to re-run, drawn across every run")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="seed of the example draw")] = 0,
    leaderboard: Annotated[Optional[str], typer.Option("--leaderboard", "-l", help="audit against this leaderboard")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="write here instead of audits/<slug>.json")] = None,
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Re-run sampled examples through the claimed model; store the audit (badge on the site); exit 1 if it fails."""
    from fsabench.api import audit
    from fsabench.console import emit_json, out
    from fsabench.leaderboard.actions import audit_failure
    from fsabench.options import AuditOptions

    done = audit(AuditOptions(submission=submission, sample=sample, seed=seed, leaderboard=leaderboard, output=output,
                              **_where(leaderboards_dir, data_dir, tasks_dir)))
    a = done.audit
    if json_out:
        emit_json(done.summary())
    else:
        out.print(f"{a.badge()} ({done.verified.bundle.entry.name}); sample F1 submitted {a.f1_submitted}, "
                  f"re-run {a.f1_reproduced}, agreement F1 {a.agreement_f1}", **PLAIN)
        out.print(f"wrote {done.path}", **PLAIN)
    if not a.passed:
        raise audit_failure(submission, a)


@leaderboard_app.command("build")
def leaderboard_build(
    name: Annotated[str, typer.Argument(help="leaderboard name, e.g. fsa")],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the static site")] = Path("site"),
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Verify every submission and render the static site (works from file://)."""
    from fsabench.api import build_site
    from fsabench.console import emit_json, out
    from fsabench.options import BuildOptions

    index, entries = build_site(BuildOptions(name=name, output=output, **_where(leaderboards_dir, data_dir, tasks_dir)))
    if json_out:
        emit_json({"index": str(index), "entries": entries})
    else:
        out.print(f"built {index} ({entries} entries); open it in a browser (works from file://)",
                  markup=False, soft_wrap=True)


@leaderboard_app.command("serve")
def leaderboard_serve(
    name: Annotated[str, typer.Argument(help="leaderboard name, e.g. fsa")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port (0 = any free port)")] = 8765,
    db: Annotated[Optional[Path], typer.Option("--db", envvar="FSABENCH_LEADERBOARD_DB",
                                               help="SQLite file [env FSABENCH_LEADERBOARD_DB; default: user data dir]")] = None,
    tokens_file: Annotated[Optional[Path], typer.Option("--tokens-file", help="file with one submit token per line "
                                                        "(also FSABENCH_LEADERBOARD_TOKENS, comma-separated)")] = None,
    import_folder: Annotated[bool, typer.Option(help="load the folder's verified submissions at start")] = True,
    trusted_proxy: Annotated[Optional[list[str]], typer.Option("--trusted-proxy", help="address of a reverse proxy "
                             "whose X-Forwarded-For is believed (repeatable)")] = None,
    reads_per_minute: Annotated[int, typer.Option("--reads-per-minute", min=1, help="requests a client may make per minute")] = 600,
    posts_per_minute: Annotated[int, typer.Option("--posts-per-minute", min=1, help="submissions a token may post per minute")] = 6,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no request log")] = False,
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
) -> None:
    """Host the leaderboard: token-authenticated POST of bundles, ranked table as JSON and HTML (FastAPI; /docs)."""
    from fsabench.api import serve_leaderboard
    from fsabench.options import BoardServeOptions

    serve_leaderboard(BoardServeOptions(name=name, host=host, port=port, db=db, tokens_file=tokens_file,
                                        import_folder=import_folder, trusted_proxies=tuple(trusted_proxy or ()),
                                        reads_per_minute=reads_per_minute, posts_per_minute=posts_per_minute,
                                        quiet=quiet, **_where(leaderboards_dir, data_dir, tasks_dir)))
