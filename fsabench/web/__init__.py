"""The one HTTP stack of fsabench (FastAPI + uvicorn): limits, protocol guards, security headers.

    limits.py    `Limits` (one class, per-app defaults via `Limits.for_app`), the error shape
    protocol.py  uvicorn's h11 protocol with the connection guards
    stack.py     the app factory, ASGI guards, request log, `run_app` (and its `settle_heap`) and `ServerThread`
    headers.py   the security-header policy every app answers with

Importing this package does not import FastAPI or uvicorn; building an app does.
"""

from fsabench.web.limits import APP_DEFAULTS, LOG, Limits, error_json
from fsabench.web.stack import (BodyLimit, HeadAsGet, RequestLog, ServerThread, bind, client_address, loggable_path,
                                make_app, run_app, settle_heap, url_of, uvicorn_config)

__all__ = ["APP_DEFAULTS", "LOG", "Limits", "error_json", "BodyLimit", "HeadAsGet", "RequestLog", "ServerThread",
           "bind", "client_address", "loggable_path", "make_app", "run_app", "settle_heap", "url_of", "uvicorn_config"]
