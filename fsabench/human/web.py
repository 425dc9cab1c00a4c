"""The annotation server's limits on the shared web stack (`fsabench/webserver.py`: FastAPI app with a
body limit and request log, uvicorn with a whole-request deadline, keep-alive and connection limits,
graceful shutdown). Only the defaults differ: answers are small, annotators few, no /docs.
"""

from __future__ import annotations

from dataclasses import dataclass

from fsabench import webserver
from fsabench.webserver import ServerThread, run_app

__all__ = ["Limits", "ServerThread", "make_app", "run_app"]


@dataclass(frozen=True)
class Limits(webserver.Limits):
    max_body: int = 256 * 1024  # an answer is a few hundred bytes; 256 KB is generous
    max_connections: int = 200
    max_json_containers: int | None = 10_000  # an answer holds a few dozen
    graceful_shutdown: float = 5.0


def make_app(title: str, limits: Limits):
    """Errors of the stack itself (413, 415, ...) in FastAPI's {"detail": ...}, the shape the page reads."""
    return webserver.make_app(title, limits, error_shape=lambda status, text: {"detail": text},
                              docs_url=None, redoc_url=None, openapi_url=None)
