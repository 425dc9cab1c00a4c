"""The leaderboard service's HTTP routes (FastAPI), over a `service.LeaderboardApp`.

Reads are `async` and answer from what was rendered when the standings last changed: the table and
index, and entry pages composed per change in the background (shelf.py: a prepared head, the tail's
file, one read); only a page asked for before the composer reached it is composed on the GET (in the
thread pool). No GET verifies or ranks. A POST checks its token first, then the token's
rate limit, then reads the body and verifies it in the thread pool.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from fsabench.leaderboard.state import ASSET_TYPES, SECURITY_HEADERS, SLUG, TEMPLATES, Body, LeaderboardApp
from fsabench.web import Limits, client_address, make_app
from fsabench.web.headers import SecurityHeaders

HTML = "text/html; charset=utf-8"
LOG = logging.getLogger("fsabench.leaderboard")


class ReadLimit:
    """Per-client budget for every request except POSTs (those are counted after the token check)."""

    def __init__(self, app: Any, lb: LeaderboardApp) -> None:
        self.app, self.lb = app, lb

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] != "POST":
            wait = self.lb.requests.retry_after(client_address(scope, self.lb.config.trusted_proxies))
            if wait is not None:
                return await too_many(wait)(scope, receive, send)
        await self.app(scope, receive, send)


def too_many(wait: int) -> JSONResponse:
    return JSONResponse({"error": "too many requests", "retry_after": wait}, 429, {"Retry-After": str(wait)})


def send(request: Request, body: Body, media_type: str) -> Response:
    """The cached body, gzipped when the client accepts it (the plain form of an entry page is re-made)."""
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(body.gz, media_type=media_type, headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return Response(body.raw, media_type=media_type, headers={"Vary": "Accept-Encoding"})


def build_routes(lb: LeaderboardApp, limits: Limits):
    """The FastAPI app over one LeaderboardApp (in `app.state.lb`): the module's router, its error
    handler, the read limit and the security headers."""
    @asynccontextmanager
    async def lifespan(_: Any):
        task = asyncio.create_task(rescan_forever(lb)) if lb.config.rescan_seconds > 0 else None
        warm = asyncio.create_task(warm_soon(lb))
        yield
        warm.cancel()
        if task is not None:
            task.cancel()

    app = make_app(f"fsabench leaderboard: {lb.board.name}", limits, quiet=lb.config.quiet, lifespan=lifespan,
                   body_encodings=("identity", "gzip"),  # a gzipped bundle: submit() bounds what it expands to
                   error_shape=lambda status, text: {"error": text})  # the shape of every other answer here
    app.state.lb = lb
    app.add_middleware(ReadLimit, lb=lb)
    app.add_middleware(SecurityHeaders, headers=SECURITY_HEADERS)
    app.add_exception_handler(HTTPException, not_found)
    app.include_router(router)
    return app


router = APIRouter()


def _lb(request: Request) -> LeaderboardApp:
    return request.app.state.lb


async def not_found(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"error": f"not found: {request.url.path}" if exc.status_code == 404 else str(exc.detail)},
                        exc.status_code, getattr(exc, "headers", None))


def missing(path: str) -> JSONResponse:
    return JSONResponse({"error": f"not found: {path}"}, 404)


@router.get("/")
@router.get("/index.html", include_in_schema=False)
async def index(request: Request) -> Response:
    return send(request, _lb(request).index_html(), HTML)


@router.get("/api/leaderboard")
async def table(request: Request) -> Response:
    return send(request, _lb(request).table_json(), "application/json")


@router.get("/healthz")
async def health(request: Request) -> dict[str, Any]:
    lb = _lb(request)
    return {"ok": True, "leaderboard": lb.board.name, "pages_pending": lb.ledger.shelf.pending()}


@router.get("/compare.html")
async def compare(request: Request) -> Response:
    lb = _lb(request)
    return send(request, lb.cached_compare_html() or await run_in_threadpool(lb.compare_html), HTML)


@router.get("/assets/preds/{name}")
async def predictions(name: str, request: Request) -> Response:
    lb = _lb(request)
    slug = name[:-3] if name.endswith(".js") else ""
    if not SLUG.match(slug):
        return missing(f"/assets/preds/{name}")
    body = lb.cached_prediction_js(slug) or await run_in_threadpool(lb.prediction_js, slug)
    if body is None:
        return missing(f"/assets/preds/{name}")
    return send(request, body, "text/javascript; charset=utf-8")


@router.get("/assets/{name}")
async def asset(name: str) -> Response:
    if name not in ASSET_TYPES:
        return missing(f"/assets/{name}")
    return Response((TEMPLATES / name).read_bytes(), media_type=ASSET_TYPES[name])


@router.get("/api/entries/{slug}")
async def entry(slug: str, request: Request) -> Response:
    found = _lb(request).entry(slug) if SLUG.match(slug) else None
    if not found:
        return missing(f"/api/entries/{slug}")
    return JSONResponse(found)


@router.get("/models/{page}")
async def model_page(page: str, request: Request) -> Response:
    lb = _lb(request)
    slug = page[:-5] if page.endswith(".html") else ""
    if not SLUG.match(slug):
        return missing(f"/models/{page}")
    body = lb.cached_page(slug) or await run_in_threadpool(lb.model_html, slug)
    return send(request, body, HTML) if body is not None else missing(f"/models/{page}")


@router.post("/api/submissions", status_code=201)
async def submit(request: Request) -> JSONResponse:
    lb = _lb(request)
    submitter = lb.authorized(request.headers.get("authorization"))
    if submitter is None:  # counted per client, never against a token's budget
        wait = lb.requests.retry_after(client_address(request.scope, lb.config.trusted_proxies))
        if wait is not None:
            return too_many(wait)
        return JSONResponse({"error": "missing or invalid token", "hint": "send Authorization: Bearer <token>"},
                            401, {"WWW-Authenticate": 'Bearer realm="fsabench-leaderboard"', "Connection": "close"})
    wait = lb.posts.retry_after(submitter)
    if wait is not None:
        return too_many(wait)
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return JSONResponse({"error": "Content-Length required"}, 411, {"Connection": "close"})
    raw = await request.body()
    status, payload = await run_in_threadpool(lb.submit, raw, submitter)
    return JSONResponse(payload, status, server_timing(lb.last_change) if status in (200, 201) else None)


def server_timing(change: dict[str, Any]) -> dict[str, str]:
    """Where an accepted POST's time went (Server-Timing, as browsers' developer tools show it)."""
    parts = [f"{name};dur={change[name] * 1000:.1f}" for name in ("verify", "prepare", "store", "rank", "render")
             if name in change]
    parts.append(f'tests;desc="{change.get("tests", 0)} paired tests, {change.get("changed", 0)} places changed"')
    return {"Server-Timing": ", ".join(parts)}


async def warm_soon(lb: LeaderboardApp, delay: float = 2.0) -> None:
    """Load the gold and resamples a POST needs once the first readers have been answered."""
    await asyncio.sleep(delay)
    try:
        await asyncio.to_thread(lb.warm)
    except Exception as exc:  # noqa: BLE001 (a POST loads them itself and reports the problem)
        LOG.warning("warming the verifier failed: %s", exc)


async def rescan_forever(lb: LeaderboardApp) -> None:
    """Folder entries whose file was removed leave the ranking within `rescan_seconds`."""
    while True:
        await asyncio.sleep(lb.config.rescan_seconds)
        try:
            await asyncio.to_thread(lb.rescan)
        except OSError as exc:  # a vanished folder is not a reason to stop serving
            LOG.warning("rescan of %s failed: %s", lb.board.submissions_dir, exc)
