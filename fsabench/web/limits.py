"""What one client may cost a server: one `Limits` for every app, with per-app defaults (`Limits.for_app`)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger("fsabench.web")


@dataclass(frozen=True)
class Limits:
    """What one client may cost the server (every server passes its own values)."""

    max_body: int = 8 * 2 ** 20  # bytes of request body
    request_timeout: float = 20.0  # seconds from connecting (or a request's first byte) to its last byte
    keep_alive: int = 5  # seconds an idle keep-alive connection stays open
    max_header_bytes: int = 16 * 1024  # request line + headers
    max_connections: int = 1000  # beyond this, uvicorn answers 503
    graceful_shutdown: float = 10.0  # seconds in-flight requests get after SIGINT/SIGTERM
    backlog: int = 2048
    max_connections_per_client: int = 64  # open connections from one peer address
    max_json_containers: int | None = None  # '[' + '{' bytes in a body (None: unchecked); see BodyLimit
    unlimited_peers: tuple[str, ...] = ()  # peers exempt from that cap (a trusted reverse proxy)

    @classmethod
    def for_app(cls, app: str, **overrides: Any) -> "Limits":
        """The defaults of one app (`serve`, `human`, `leaderboard`) with `overrides` applied."""
        return cls(**{**APP_DEFAULTS[app], **overrides})

    def replace(self, **changes: Any) -> "Limits":
        return dataclasses.replace(self, **changes)


APP_DEFAULTS: dict[str, dict[str, Any]] = {
    # a benchmark client may run --concurrency 256 from one host; 256 messages x 256 parts fit in 100k
    # containers (1.5M nested lists took 2 s to parse)
    "serve": {"max_body": 4 * 2 ** 20, "request_timeout": 20.0, "max_connections_per_client": 256,
              "max_json_containers": 100_000},
    # an answer is a few hundred bytes and holds a few dozen containers; annotators are few
    "human": {"max_body": 256 * 1024, "max_connections": 200, "max_json_containers": 10_000,
              "graceful_shutdown": 5.0},
    # the body cap comes from the leaderboard's own rules (max_submission_bytes), see leaderboard/service.py
    "leaderboard": {},
}


def error_json(status: int, text: str) -> dict[str, Any]:
    """The error shape of the shared stack's own answers (OpenAI's: serve's clients parse it)."""
    return {"error": {"message": text, "type": "invalid_request_error" if status < 500 else "server_error",
                      "code": status}}
