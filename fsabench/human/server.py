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

from jinja2 import Environment, FileSystemLoader, select_autoescape

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


def build_app(study: Study, limits=None):
    """The FastAPI app for one study (tokens read once, at start). No `from __future__ import
    annotations` in this module: FastAPI reads the handlers' annotations (Request) at runtime."""
    from fastapi import HTTPException, Request
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

    app = make_app(f"fsabench human: {study.folder.name}", limits or Limits())
    tokens = study.tokens()
    page = _env().get_template("annotate.html.j2")

    def who(token: str) -> str:
        for name, secret in tokens.items():
            if secrets.compare_digest(secret.encode(), token.encode()):
                return name
        raise HTTPException(404, "unknown link: ask the study owner for your private link")

    app.add_middleware(SecurityHeaders, headers=HEADERS)

    @app.get("/health")
    async def health() -> dict:
        return {"ok": True, "study": study.folder.name}

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return "<!doctype html><title>fsabench human</title><p>Open the private link you were given.</p>"

    @app.get("/static/{name}")
    async def static(name: str):
        if name not in ("annotate.js", "annotate.css"):
            raise HTTPException(404, "not found")
        media = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(STATIC / name, media_type=media)

    @app.get("/a/{token}", response_class=HTMLResponse)
    def annotate(token: str) -> str:
        annotator = who(token)
        return page.render(rubric=study.rubric, annotator=annotator, study=study.folder.name)

    @app.get("/api/{token}/state")
    def state(token: str) -> dict[str, Any]:
        annotator = who(token)
        with closing(store_of(study)) as store:
            rows = {r.item: r for r in store.rows(annotator=annotator)}
        statuses = {i: r.status for i, r in rows.items()}
        return {"annotator": annotator, "rubric": study.rubric.model_dump(mode="json", exclude={"examples"}),
                "items": [study.items[i] for i in study.assignment[annotator]],
                "answers": {i: {"status": r.status, **r.answer} for i, r in rows.items()},
                "progress": progress(study, annotator, statuses)}

    @app.put("/api/{token}/answers/{item}")
    async def save(token: str, item: str, request: Request):
        annotator = who(token)
        if item not in study.assignment[annotator]:
            raise HTTPException(404, f"item {item} is not assigned to {annotator}")
        try:
            body = await request.json()
            answer, status = check_answer(study.rubric, study.items[item], body)
        except ValueError as exc:  # bad JSON or an answer the rubric refuses
            return JSONResponse({"detail": str(exc).splitlines()[0][:300]}, status_code=422)
        except RecursionError:  # json.loads of [[[[...]]]]: a 500 before
            return JSONResponse({"detail": "the body nests too deeply to be an answer"}, status_code=422)
        from starlette.concurrency import run_in_threadpool

        def write() -> dict:
            with closing(store_of(study)) as store:
                store.save(annotator, item, "human", status, answer)
                statuses = {r.item: r.status for r in store.rows(annotator=annotator)}
            return {"status": status, "progress": progress(study, annotator, statuses)}

        return await run_in_threadpool(write)

    return app
