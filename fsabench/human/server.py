"""`fsabench human serve STUDY`: the annotation page, one private link per annotator.

    GET  /a/{token}                    the page (rubric rendered with jinja2 autoescape; no item text)
    GET  /api/{token}/state            this annotator's items in their order, saved answers, progress
    PUT  /api/{token}/answers/{item}   save one answer (validated against the rubric), committed at once
    GET  /static/annotate.{js,css}     the page's script and style

Item text reaches the browser only as JSON and is put on the page with textContent (never
innerHTML), and a Content-Security-Policy forbids inline scripts, so an analysis holding `<script>`
shows as text. Each request opens its own SQLite connection (WAL): several annotators save at once,
and an answer acknowledged to the browser is on disk, so kill -9 of the server loses none of them.
"""

import secrets
from contextlib import closing
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from fsabench.human.store import check_answer, store_of
from fsabench.human.study import Study
from fsabench.human.web import Limits, make_app
from fsabench.web.headers import SecurityHeaders, security_headers

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = security_headers(CSP, Cache_Control="no-store")  # fsabench.web.headers' one policy, this page's CSP


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(STATIC)), autoescape=select_autoescape(["html", "j2"]))


def progress(study: Study, annotator: str, statuses: dict[str, str]) -> dict[str, int]:
    mine = study.assignment[annotator]
    count = lambda s: sum(statuses.get(i) == s for i in mine)  # noqa: E731
    return {"total": len(mine), "done": count("done"), "skipped": count("skipped"), "open": count("open")}


router = APIRouter()  # the routes; each app's study, tokens and page template are in `app.state`


def build_app(study: Study, limits=None):
    """The FastAPI app for one study (tokens read once, at start): the module's router over `app.state`.
    No `from __future__ import annotations` in this module: FastAPI reads the handlers' annotations."""
    app = make_app(f"fsabench human: {study.folder.name}", limits or Limits())
    app.state.study, app.state.tokens = study, study.tokens()
    app.state.page = _env().get_template("annotate.html.j2")
    app.add_middleware(SecurityHeaders, headers=HEADERS)
    app.include_router(router)
    return app


def _study(request: Request) -> Study:
    return request.app.state.study


def who(request: Request, token: str) -> str:
    """The annotator a private link belongs to (constant-time comparison), else 404."""
    for name, secret in request.app.state.tokens.items():
        if secrets.compare_digest(secret.encode(), token.encode()):
            return name
    raise HTTPException(404, "unknown link: ask the study owner for your private link")


@router.get("/health")
async def health(request: Request) -> dict:
    return {"ok": True, "study": _study(request).folder.name}


@router.get("/", response_class=HTMLResponse)
async def index() -> str:
    return "<!doctype html><title>fsabench human</title><p>Open the private link you were given.</p>"


@router.get("/static/{name}")
async def static(name: str):
    if name not in ("annotate.js", "annotate.css"):
        raise HTTPException(404, "not found")
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(STATIC / name, media_type=media)


@router.get("/a/{token}", response_class=HTMLResponse)
def annotate(token: str, request: Request) -> str:
    annotator, study = who(request, token), _study(request)
    return request.app.state.page.render(rubric=study.rubric, annotator=annotator, study=study.folder.name)


@router.get("/api/{token}/state")
def state(token: str, request: Request) -> dict[str, Any]:
    annotator, study = who(request, token), _study(request)
    with closing(store_of(study)) as store:
        rows = {r.item: r for r in store.rows(annotator=annotator)}
    statuses = {i: r.status for i, r in rows.items()}
    return {"annotator": annotator, "rubric": study.rubric.model_dump(mode="json", exclude={"examples"}),
            "items": [study.items[i] for i in study.assignment[annotator]],
            "answers": {i: {"status": r.status, **r.answer} for i, r in rows.items()},
            "progress": progress(study, annotator, statuses)}


@router.put("/api/{token}/answers/{item}")
async def save(token: str, item: str, request: Request):
    annotator, study = who(request, token), _study(request)
    if item not in study.assignment[annotator]:
        raise HTTPException(404, f"item {item} is not assigned to {annotator}")
    try:
        body = await request.json()
        answer, status = check_answer(study.rubric, study.items[item], body)
    except ValueError as exc:  # bad JSON or an answer the rubric refuses
        return JSONResponse({"detail": str(exc).splitlines()[0][:300]}, status_code=422)
    except RecursionError:  # json.loads of [[[[...]]]]: a 500 before
        return JSONResponse({"detail": "the body nests too deeply to be an answer"}, status_code=422)

    def write() -> dict:
        with closing(store_of(study)) as store:
            store.save(annotator, item, "human", status, answer)
            statuses = {r.item: r.status for r in store.rows(annotator=annotator)}
        return {"status": status, "progress": progress(study, annotator, statuses)}

    return await run_in_threadpool(write)
