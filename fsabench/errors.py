"""One exception family. Library code raises these; the CLI prints them as one line, exit code 1."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FsabenchError(Exception):
    """A user-facing error: what is wrong, where, and how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.hint})" if self.hint else self.message


class SpecError(FsabenchError):
    """A task YAML (or another declarative file) is malformed."""


class DataError(FsabenchError):
    """A data file is missing, corrupt or malformed."""


class ChecksumError(DataError):
    """A data file's sha256 differs from the pinned one."""


class ModelError(FsabenchError):
    """A model could not be loaded or answered badly."""


class PredictionsError(FsabenchError):
    """A predictions file given to `fsabench score` is malformed."""


class ResultError(FsabenchError):
    """A RunResult file is malformed, partial or inconsistent."""


class UnknownName(FsabenchError):
    """A name (task, model scheme, builder, ...) is not registered; suggests close matches."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        hint += f"known {kind}s: {', '.join(known) or '(none)'}"
        super().__init__(f"unknown {kind} {name!r}", hint=hint)
        self.kind = kind
        self.name = name


def field_of(loc: Iterable[object]) -> str:
    """pydantic's error location as a dotted field name: ('task', 'data', 0) -> 'task.data.0'."""
    return ".".join(str(part) for part in loc) or "(top level)"


def from_validation(where: str, exc: Exception, hint: str, error: type[FsabenchError] = FsabenchError,
                    field_prefix: str = "field ") -> FsabenchError:
    """The one-line error for a pydantic ValidationError: where, the first field, what is wrong, the fix.

    Unknown keys (extra="forbid") and missing keys are said plainly; more problems are counted, not listed."""
    problems = exc.errors()  # type: ignore[attr-defined]
    first = problems[0]
    field = field_of(first["loc"])
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    if first["type"] == "extra_forbidden":
        return error(f"{where}: unknown key '{field}'{more}", hint=f"remove it or fix its spelling; {hint}")
    if first["type"] == "missing":
        return error(f"{where}: missing required {field_prefix}'{field}'{more}", hint=hint)
    return error(f"{where}: {field_prefix}'{field}': {first['msg']}{more}", hint=hint)
