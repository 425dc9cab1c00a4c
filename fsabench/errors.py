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
