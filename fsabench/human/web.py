"""The small slice of a shared web stack the annotation server needs: a FastAPI app with a body
limit, run by uvicorn with connection and keep-alive limits.

Issue 12 brings `fsabench/webserver.py` (the same names: Limits, make_app, run_app, ServerThread)
for every fsabench server; once it is on main, import from there and delete this file.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    max_body: int = 256 * 1024  # an answer is a few hundred bytes; 256 KB is generous
    keep_alive: int = 5
    max_header_bytes: int = 16 * 1024
    max_connections: int = 200
    graceful_shutdown: float = 5.0


class BodyLimit:
    """413 for a declared Content-Length over the limit; a chunked body is cut off as it passes it."""

    def __init__(self, app: Any, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return await _too_large(send)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(send)


class _TooLarge(Exception):
    pass


async def _too_large(send: Callable) -> None:
    body = b'{"detail": "request body too large"}'
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def make_app(title: str, limits: Limits):
    from fastapi import FastAPI

    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit, max_body=limits.max_body)
    return app


def _config(app: Any, limits: Limits, quiet: bool):
    import uvicorn

    return uvicorn.Config(app, lifespan="off", timeout_keep_alive=limits.keep_alive,
                          h11_max_incomplete_event_size=limits.max_header_bytes,
                          limit_concurrency=limits.max_connections, access_log=False, server_header=False,
                          timeout_graceful_shutdown=int(limits.graceful_shutdown),
                          log_level="warning" if quiet else "info")


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(512)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def run_app(app: Any, host: str, port: int, limits: Limits, quiet: bool = True,
            on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn shuts down gracefully); `on_ready(url)` once bound."""
    import uvicorn

    sock = bind(host, port)
    if on_ready is not None:
        on_ready(url_of(sock))
    try:
        uvicorn.Server(_config(app, limits, quiet)).run(sockets=[sock])
    finally:
        sock.close()


class ServerThread:
    """The same server on a background thread (tests, notebooks): `.url`, `.stop()`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None) -> None:
        import uvicorn

        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        self.server = uvicorn.Server(_config(app, limits or Limits(), True))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()

    def __enter__(self) -> "ServerThread":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
