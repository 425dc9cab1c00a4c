"""The `fsabench` command line: VERB [NOUN] [OPTIONS], one module per verb, a thin skin over the library.

Errors: library errors (FsabenchError) print one line and exit 1; usage errors print the parser's own
usage message (with did-you-mean) and exit 2; anything else is an internal error, exit 2.
"""

from __future__ import annotations

import sys

import typer

from fsabench.cli import data, diff, distill, export, human, leaderboard, report, run, score, serve, sweep, tasks  # noqa: F401  (registers the verbs)
from fsabench.cli.common import app
from fsabench.errors import FsabenchError

HIDDEN_ALIASES = {"--out": "--output"}  # older spellings still accepted, not shown in help


def normalise_argv(argv: list[str]) -> list[str]:
    """Rewrite hidden aliases (`--out X`, `--out=X`) to their documented names before parsing."""
    fixed = []
    for arg in argv:
        name, eq, value = arg.partition("=")
        if name in HIDDEN_ALIASES:
            arg = HIDDEN_ALIASES[name] + eq + value
        fixed.append(arg)
    return fixed


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors with exit code 1, usage errors 2, internal errors 2."""
    usage_errors, aborts = _click_error_types()
    args = normalise_argv(list(sys.argv[1:] if argv is None else argv))
    try:
        code = app(args=args, prog_name="fsabench", standalone_mode=False)  # returns typer.Exit's code
    except FsabenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt, *aborts):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except usage_errors as exc:  # usage errors: the parser's message, did-you-mean, exit 2
        add_did_you_mean(exc)
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:  # the file system said no (not a folder, permission, disk full): the user can act
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        typer.echo(f"error: {where}{exc.strerror or exc} (fix: check the path, its permissions and free space)",
                   err=True)
        sys.exit(1)
    except ImportError as exc:  # a module of an extra that is not installed: name the extra (fsabench/extras.py)
        from fsabench.extras import missing_extra

        words = [a for a in args if not a.startswith("-")][:2]
        verb = " ".join(words if words and words[0] in ("leaderboard", "human", "distill", "data", "tasks") else words[:1])
        error = missing_extra(exc, f"`fsabench {verb}`" if verb else None, command=words[0] if words else None)
        typer.echo(f"error: {error}" if error else f"internal error: {type(exc).__name__}: {exc} (please report it)",
                   err=True)
        sys.exit(1 if error else 2)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (please report it)", err=True)
        sys.exit(2)
    if isinstance(code, int) and code:
        sys.exit(code)


def add_did_you_mean(exc: BaseException) -> None:
    """Click lists 'Possible options'; say it the way users search for it: 'Did you mean --model?'."""
    possibilities = sorted(getattr(exc, "possibilities", None) or [])
    option = getattr(exc, "option_name", None)
    if option and possibilities:
        exc.message = f"No such option: {option}. Did you mean {' or '.join(possibilities[:3])}?"
        exc.possibilities = []  # already said


def _click_error_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(usage errors, aborts) of whichever click parses: typer >= 0.20 bundles its own copy and no longer
    installs click, older typers use click itself; take every one that is importable."""
    usage: list[type[BaseException]] = []
    aborts: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            from importlib import import_module

            found = import_module(module)
        except ImportError:
            continue
        usage.append(found.ClickException)
        if hasattr(found, "Abort"):
            aborts.append(found.Abort)
    return tuple(usage), tuple(aborts)


__all__ = ["app", "main"]
