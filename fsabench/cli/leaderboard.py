"""`fsabench leaderboard submit|verify|audit|build|serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.cli.common import DataDir, JsonOut, TasksDir, group

leaderboard_app = group("leaderboard", "Submit, verify, publish and host leaderboards of verified results.")
LeaderboardsDir = Annotated[Optional[Path], typer.Option("--leaderboards-dir", envvar="FSABENCH_LEADERBOARDS_DIR",
                            help="folder holding <name>/leaderboard.yaml [env FSABENCH_LEADERBOARDS_DIR; default ./leaderboards]")]


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
) -> None:
    """Bundle RunResults with metadata, verify them (hashes, coverage, re-scored outputs) and write the submission."""
    from fsabench.commands.leaderboard import submit_command

    fields = {"name": name, "category": category, "parameters": parameters, "base_model": base_model, "link": link,
              "license": license, "date": date, "notes": notes}
    submit_command(runs, leaderboard, fields, output, overwrite, leaderboards_dir, data_dir, tasks_dir, json_out,
                   gzip=gzip)


@leaderboard_app.command("verify")
def leaderboard_verify(
    path: Annotated[Optional[Path], typer.Argument(help="a submission file or folder [default: every leaderboard's submissions]")] = None,
    leaderboard: Annotated[Optional[str], typer.Option("--leaderboard", "-l", help="check against this leaderboard")] = None,
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
) -> None:
    """Re-check submissions (schema, hashes, coverage, re-scored outputs); exit 1 if any is rejected."""
    from fsabench.commands.leaderboard import verify_command

    raise typer.Exit(verify_command(path, leaderboard, leaderboards_dir, data_dir, tasks_dir, json_out))


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
) -> None:
    """Re-run sampled examples through the claimed model; store the audit (badge on the site); exit 1 if it fails."""
    from fsabench.commands.leaderboard_audit import audit_command

    audit_command(submission, sample, seed, leaderboard, output, leaderboards_dir, data_dir, tasks_dir, json_out)


@leaderboard_app.command("build")
def leaderboard_build(
    name: Annotated[str, typer.Argument(help="leaderboard name, e.g. fsa")],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the static site")] = Path("site"),
    leaderboards_dir: LeaderboardsDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
) -> None:
    """Verify every submission and render the static site (works from file://)."""
    from fsabench.commands.leaderboard import build_command

    build_command(name, output, leaderboards_dir, data_dir, tasks_dir, json_out)


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
    from fsabench.commands.leaderboard import serve_command

    serve_command(name, host, port, db, tokens_file, leaderboards_dir, data_dir, tasks_dir, import_folder,
                  tuple(trusted_proxy or ()), quiet, reads_per_minute, posts_per_minute)
