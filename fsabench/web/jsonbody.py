"""Request bodies read as strict JSON (fsabench.jsonstrict): a duplicate key, NaN or Infinity is refused.

FastAPI reads a JSON body with json.loads, which keeps the last of two equal keys: `{"max_tokens": 10,
"max_tokens": 100000}` would be read one way by a proxy or log that looks at the first and another by the
server. A router built with `route_class=StrictJSONRoute` refuses such a body as invalid JSON (400),
the way the leaderboard refuses a bundle with duplicate keys.
"""

from __future__ import annotations

import json
from typing import Any


def strict_route_class() -> type:
    """An APIRoute whose requests decode JSON strictly (FastAPI imported here, not at import time)."""
    from fastapi.routing import APIRoute
    from starlette.requests import Request

    from fsabench.jsonstrict import JSONProblem, loads

    class StrictJSONRequest(Request):
        async def json(self) -> Any:
            if not hasattr(self, "_json"):
                text = (await self.body()).decode("utf-8")  # not UTF-8: FastAPI's own 400, as before
                try:
                    self._json = loads(text)
                except JSONProblem as exc:
                    if exc.lineno is not None:  # a syntax error: json's own, with its position
                        json.loads(text)
                    if exc.msg == "nested too deeply":
                        raise RecursionError(exc.msg) from None  # FastAPI's "error parsing the body", as before
                    # a duplicate key, NaN, Infinity: FastAPI answers a JSONDecodeError with its json_invalid 400
                    raise json.JSONDecodeError(exc.msg, text, 0) from None
            return self._json

    class StrictJSONRoute(APIRoute):
        def get_route_handler(self):  # type: ignore[no-untyped-def]
            handler = super().get_route_handler()

            async def strict(request: Request):  # type: ignore[no-untyped-def]
                return await handler(StrictJSONRequest(request.scope, request.receive))

            return strict

    return StrictJSONRoute
