"""The web stack every fsabench HTTP server shares: FastAPI apps run by uvicorn, with limits.

Why a shared module: `fsabench serve`, `fsabench leaderboard serve` and the human-evaluation
annotation server all face untrusted clients, so each needs the same guards, written once:

- `request_deadline`: a client must send a whole request (headers and body) within
  `Limits.request_timeout` seconds of its first byte (or of connecting); a slowloris client is
  dropped. uvicorn itself only times out idle keep-alive connections, never a slow request.
- `BodyLimit`: a body over `Limits.max_body` gets 413 from its Content-Length before a byte of
  it is read (chunked bodies are counted as they arrive), and the connection is closed, so the
  unread body is never parsed as a second request.
- `RequestLog`: one line per request (client, method, path, status, latency in ms) on the
  `fsabench.web` logger.
- `run_app` (blocking; SIGINT/SIGTERM shut down gracefully: no new connections, in-flight
  requests finish within `Limits.graceful_shutdown` s) and `ServerThread` (tests, notebooks,
  benchmarks: port 0 picks a free port, `.url`, `.stop()`).

How to build a server on it (the pattern both servers follow):

    from fsabench.webserver import Limits, ServerThread, make_app, run_app

    def build_app(...) -> "FastAPI":
        app = make_app("my service", limits, quiet=quiet)   # guards + logging installed
        @app.get("/health")
        async def health() -> dict: return {"ok": True}
        return app

    run_app(build_app(...), host, port, limits, on_ready=lambda url: print("READY", url))
    # or, in a test:  with ServerThread(build_app(...), limits=limits) as server: server.url

Handlers that do real work (SQLite, rendering, models) are plain `def` (FastAPI runs them in its
thread pool) or hand the work to their own worker thread; `async def` is for cheap answers.
`client_address` gives the caller's address, trusting X-Forwarded-For only from listed proxies.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
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


def make_app(title: str, limits: Limits, quiet: bool = False, **fastapi_options: Any):
    """A FastAPI app with the body limit and request log installed; docs at /docs and /openapi.json."""
    from fastapi import FastAPI

    app = FastAPI(title=title, **fastapi_options)
    app.add_middleware(BodyLimit, max_body=limits.max_body)
    app.add_middleware(RequestLog, quiet=quiet)
    return app


# --- ASGI middleware (pure ASGI: no per-request copies, streaming untouched) --------------------------
class BodyLimit:
    """413 from Content-Length before reading; chunked bodies are cut off when they pass the limit."""

    def __init__(self, app: Any, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():  # h11 refuses these first; kept for other protocol servers
                return await _plain(send, 400, "bad Content-Length")
            if int(declared) > self.max_body:
                return await _plain(send, 413, f"request body of {int(declared):,} bytes is over the limit of "
                                               f"{self.max_body:,}")
        seen = 0
        started = False

        async def counted_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def counted_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, counted_receive, counted_send)
        except BodyTooLarge:
            if not started:
                await _plain(send, 413, f"request body is over the limit of {self.max_body:,} bytes")


class BodyTooLarge(Exception):
    """Raised inside the app when a chunked body passes the limit (turned into 413 above)."""


class RequestLog:
    """One log line per request with its latency, at INFO on `fsabench.web` (silent when quiet)."""

    def __init__(self, app: Any, quiet: bool = False) -> None:
        self.app, self.quiet = app, quiet

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or self.quiet:
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 0

        async def logged_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            client = (scope.get("client") or ("-",))[0]
            LOG.info("%s %s %s %s %.1f ms", client, scope["method"], scope["path"], status or "-",
                     (time.perf_counter() - start) * 1000)


async def _plain(send: Callable, status: int, text: str) -> None:
    """A JSON error that closes the connection (the unread body must not become a second request)."""
    import json

    body = json.dumps({"error": {"message": text, "type": "invalid_request_error", "code": status}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1").strip()
    return None


def client_address(scope: dict, trusted_proxies: Iterable[str] = ()) -> str:
    """The peer's address; behind a trusted proxy, the right-most untrusted X-Forwarded-For hop."""
    peer = (scope.get("client") or ("unknown",))[0]
    trusted = set(trusted_proxies)
    if peer not in trusted:
        return peer
    forwarded = _header(scope, b"x-forwarded-for")
    hops = [h.strip() for h in (forwarded or "").split(",") if h.strip()]
    for hop in reversed(hops):  # a client can prepend anything; only the proxies' own appends count
        if hop not in trusted:
            return hop[:64]
    return peer


# --- uvicorn with a whole-request deadline ------------------------------------------------------------
def _protocol_class(request_timeout: float) -> type:
    """uvicorn's h11 protocol plus a deadline on receiving each request (slowloris guard)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class DeadlineProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.DONE or self.transport.is_closing():
                self._disarm()
            elif self._deadline is None:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._deadline = self.loop.call_later(request_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.conn.their_state is not h11.DONE and not self.transport.is_closing():
                LOG.info("%s dropped: request not received within %.0f s", (self.client or ("-",))[0],
                         request_timeout)
                self.transport.close()

    return DeadlineProtocol


def uvicorn_config(app: Any, limits: Limits, quiet: bool = True):
    import uvicorn

    return uvicorn.Config(app, http=_protocol_class(limits.request_timeout), lifespan="on",
                          timeout_keep_alive=limits.keep_alive, h11_max_incomplete_event_size=limits.max_header_bytes,
                          limit_concurrency=limits.max_connections, backlog=limits.backlog,
                          timeout_graceful_shutdown=int(limits.graceful_shutdown), access_log=False,
                          log_level="warning" if quiet else "info", server_header=False,
                          proxy_headers=False)  # uvicorn would believe X-Forwarded-For from 127.0.0.1: we decide


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening socket (port 0 = any free port); raises OSError when the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def run_app(app: Any, host: str, port: int, limits: Limits, quiet: bool = False,
            on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then shut down gracefully. `on_ready(url)` runs once bound."""
    import uvicorn

    if not quiet:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        LOG.setLevel(logging.INFO)
    sock = bind(host, port, limits.backlog)
    if on_ready is not None:
        on_ready(url_of(sock))
    try:
        uvicorn.Server(uvicorn_config(app, limits, quiet)).run(sockets=[sock])
    finally:
        sock.close()


class ServerThread:
    """The same server on a background thread: `with ServerThread(app) as s: requests to s.url`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None,
                 quiet: bool = True) -> None:
        import uvicorn

        self.limits = limits or Limits()
        self.sock = bind(host, port, self.limits.backlog)
        self.url = url_of(self.sock)
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn_config(app, self.limits, quiet))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True,
                                       name="fsabench-web")
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.server.started:
            raise RuntimeError("the web server did not start")

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> "ServerThread":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
