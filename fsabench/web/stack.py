"""The web stack every fsabench HTTP server shares: FastAPI apps run by uvicorn, with limits.

Why a shared module: `fsabench serve`, `fsabench leaderboard serve` and the human-evaluation
annotation server all face untrusted clients, so each needs the same guards, written once:

- The connection guards (fsabench/web/protocol.py, uvicorn's h11 protocol extended): a client must
  send a whole request (headers and body) within `Limits.request_timeout` seconds of its first
  byte (or of connecting), pipelined requests included; a slowloris client is dropped (uvicorn
  itself only times out idle keep-alive connections). A client that reads nothing of its answer
  for as long is cut off. One peer address holds at most `Limits.max_connections_per_client`
  connections (proxies in `unlimited_peers` excepted), so one client cannot fill `max_connections`;
  a connection over a limit may wait for a slot (`Limits.connection_queue`), then gets 503.
- Errors are JSON everywhere: a malformed request line or header (uvicorn's own 400), a full
  server (503) and an exception no handler expected (500, one line, no traceback to the client).
- `BodyLimit`: a body over `Limits.max_body` gets 413 from its Content-Length before a byte of
  it is read (chunked bodies are counted as they arrive), and the connection is closed, so the
  unread body is never parsed as a second request. With `Limits.max_json_containers`, the `[` and
  `{` bytes are counted as they arrive too: json.loads of a million tiny nested lists holds the GIL
  for seconds, so such a body is refused (413) before it is parsed. A request `Content-Encoding`
  the app does not decode gets 415, headers over `max_header_bytes` 431; HEAD answers as GET.
- `RequestLog`: one line per request (client, method, path, status, latency in ms) on the
  `fsabench.web` logger.
- `run_app` (blocking; SIGINT/SIGTERM shut down gracefully: no new connections, in-flight
  requests finish within `Limits.graceful_shutdown` s) and `ServerThread` (tests, notebooks,
  benchmarks: port 0 picks a free port, `.url`, `.stop()`).

How to build a server on it (the pattern both servers follow):

    from fsabench.web import Limits, ServerThread, make_app, run_app

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

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from fsabench.web.limits import LOG, Limits, error_json  # noqa: F401  (re-exported: the stack's public names)


def make_app(title: str, limits: Limits, quiet: bool = False, body_encodings: tuple[str, ...] = ("identity",),
             error_shape: "Callable[[int, str], dict] | None" = None, **fastapi_options: Any):
    """A FastAPI app with the body limit and request log installed; docs at /docs and /openapi.json.

    `body_encodings`: the request Content-Encodings the app's own code decodes (with its own bound
    on the expanded size, e.g. the leaderboard's gzipped bundles); any other is refused with 415.
    `error_shape(status, text)`: the JSON body of the stack's own errors (413, 415, 400, 503, 500), in
    the shape the app's other errors have, so its clients read one shape (default: OpenAI's)."""
    from fastapi import FastAPI

    shape = error_shape or error_json
    app = FastAPI(title=title, **fastapi_options)
    app.state.error_shape = shape
    app.add_middleware(BodyLimit, max_body=limits.max_body, encodings=body_encodings, shape=shape,
                       max_header_bytes=limits.max_header_bytes, max_containers=limits.max_json_containers)
    app.add_middleware(HeadAsGet)
    app.add_middleware(RequestLog, quiet=quiet)
    app.add_exception_handler(RecursionError, _client_fault)
    app.add_exception_handler(UnicodeError, _client_fault)
    app.add_exception_handler(Exception, _unexpected)  # uvicorn still logs its traceback
    return app


async def _client_fault(request: Any, exc: Exception):
    """A RecursionError (a deeply nested body) or UnicodeError (a lone surrogate, bad bytes) that a
    route let through is the client's doing: 400, never Starlette's plain-text 500."""
    from fastapi.responses import JSONResponse

    text = ("the request body nests too deeply" if isinstance(exc, RecursionError)
            else "the request holds text that is not valid Unicode (a lone surrogate or bytes that are not UTF-8)")
    return JSONResponse(request.app.state.error_shape(400, text), 400)


async def _unexpected(request: Any, exc: Exception):
    """Any other exception no route handled: one JSON line to the client (the log has the traceback)."""
    from fastapi.responses import JSONResponse

    text = f"internal error ({type(exc).__name__}); the server log has the details"
    return JSONResponse(request.app.state.error_shape(500, text), 500)


# --- ASGI middleware (pure ASGI: no per-request copies, streaming untouched) --------------------------
class BodyLimit:
    """413 from Content-Length before reading; chunked bodies are cut off when they pass the limit.
    Headers over `max_header_bytes` in all get 431.
    A body in a Content-Encoding the app does not decode gets 415 (it was a confusing parse error)."""

    def __init__(self, app: Any, max_body: int, encodings: tuple[str, ...] = ("identity",),
                 shape: Callable[[int, str], dict] | None = None, max_header_bytes: int = 16 * 1024,
                 max_containers: int | None = None) -> None:
        self.app, self.max_body, self.encodings, self.shape = app, max_body, encodings, shape or error_json
        self.max_header_bytes, self.max_containers = max_header_bytes, max_containers

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = scope.get("headers", ())
        size = sum(len(k) + len(v) + 4 for k, v in headers)
        if size > self.max_header_bytes:  # h11 bounds only headers that arrive in pieces; one 64 KB packet passed
            return await _plain(send, self.shape, 431, f"request headers of {size:,} bytes ({len(headers)} headers) "
                                                       f"are over the limit of {self.max_header_bytes:,}")
        encoding = (_header(scope, b"content-encoding") or "identity").lower()
        if encoding not in self.encodings:
            return await _plain(send, self.shape, 415, f"request bodies in Content-Encoding {encoding[:40]!r} are not "
                                                       f"accepted here (accepted: {', '.join(self.encodings)}); "
                                                       "send it uncompressed")
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():  # h11 refuses these first; kept for other protocol servers
                return await _plain(send, self.shape, 400, "bad Content-Length")
            if int(declared) > self.max_body:
                return await _plain(send, self.shape, 413, f"request body of {int(declared):,} bytes is over the "
                                                           f"limit of {self.max_body:,}")
        seen = containers = 0
        started = False

        async def counted_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def counted_receive() -> dict:
            nonlocal seen, containers
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(f"request body is over the limit of {self.max_body:,} bytes")
                if self.max_containers is not None:  # counted before json.loads builds them (with GC, ~1 s per
                    chunk = message.get("body", b"")  # million): brackets inside strings count too
                    containers += chunk.count(b"[") + chunk.count(b"{")
                    if containers > self.max_containers:
                        raise BodyTooLarge(f"request body holds over {self.max_containers:,} JSON arrays and "
                                           "objects ('[' and '{' characters, in strings too)")
            return message

        try:
            await self.app(scope, counted_receive, counted_send)
        except BodyTooLarge as exc:  # raised where no exception handler answered it
            if not started:
                await _plain(send, self.shape, 413, str(exc.detail))


def _body_too_large_base() -> type:
    from starlette.exceptions import HTTPException

    return HTTPException


class BodyTooLarge(_body_too_large_base()):  # type: ignore[misc]
    """Raised inside the app when a chunked body passes a limit: an HTTPException (413), because FastAPI
    turns any other exception met while reading a body into 400 "There was an error parsing the body"."""

    def __init__(self, text: str) -> None:
        super().__init__(413, text, headers={"Connection": "close"})


class HeadAsGet:
    """HEAD answers as GET would, without the body (FastAPI routes answer HEAD with 405; monitors
    and `curl -I` send HEAD)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def headers_only(message: dict) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


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
            LOG.info("%s %s %s %s %.1f ms", client, scope["method"], loggable_path(scope), status or "-",
                     (time.perf_counter() - start) * 1000)


def loggable_path(scope: dict, limit: int = 200) -> str:
    """The path as the client sent it (still percent-encoded) and cut short: the decoded path can hold
    CR/LF (`/%0d%0aforged line`) that would write a forged line into the server log."""
    raw = scope.get("raw_path")
    text = raw.decode("latin-1") if isinstance(raw, bytes) else scope["path"].encode("unicode_escape").decode("ascii")
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= limit else f"{text[:limit]}...({len(text):,} chars)"


async def _plain(send: Callable, shape: Callable[[int, str], dict], status: int, text: str) -> None:
    """A JSON error that closes the connection (the unread body must not become a second request)."""
    import json

    body = json.dumps(shape(status, text)).encode()
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


# --- uvicorn with the guards of fsabench/web/protocol.py ------------------------------------------------
def uvicorn_config(app: Any, limits: Limits, quiet: bool = True):
    import uvicorn

    from fsabench.web.protocol import protocol_class

    shape = getattr(getattr(app, "state", None), "error_shape", None)  # the app's error JSON, for 400/503 too
    return uvicorn.Config(app, http=protocol_class(limits, shape), lifespan="on",
                          timeout_keep_alive=limits.keep_alive, h11_max_incomplete_event_size=limits.max_header_bytes,
                          limit_concurrency=limits.max_connections + limits.connection_queue + 1,  # ours answer first
                          backlog=limits.backlog,
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


def settle_heap() -> None:
    """Put what start-up built (imports, a loaded model: ~420,000 objects for torch + a tiny T5) out of
    the garbage collector's reach: it lives as long as the process. Every full collection used to walk
    it all (215 ms in `fsabench serve`), and one request in a few hundred paid that: a server's p99."""
    import gc

    gc.collect()
    gc.freeze()


def run_app(app: Any, host: str, port: int, limits: Limits, quiet: bool = False,
            on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then shut down gracefully. `on_ready(url)` runs once bound."""
    import uvicorn

    settle_heap()

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
