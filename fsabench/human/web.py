"""The annotation server on the shared web stack (`fsabench.web`): only the defaults differ (answers are
small, annotators few, no /docs), so `Limits()` here is `fsabench.web.Limits.for_app("human")`.
"""

from __future__ import annotations

from typing import Any

from fsabench import web
from fsabench.web import ServerThread, run_app

__all__ = ["Limits", "ServerThread", "make_app", "run_app"]


def Limits(**overrides: Any) -> web.Limits:  # noqa: N802 - keeps the old `Limits()` spelling of this module
    """The human app's limits (`fsabench.web.Limits` with the human defaults, `overrides` applied)."""
    return web.Limits.for_app("human", **overrides)


def make_app(title: str, limits: web.Limits):
    """Errors of the stack itself (413, 415, ...) in FastAPI's {"detail": ...}, the shape the page reads."""
    return web.make_app(title, limits, error_shape=lambda status, text: {"detail": text},
                        docs_url=None, redoc_url=None, openapi_url=None)
