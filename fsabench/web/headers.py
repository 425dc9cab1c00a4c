"""One security-header policy for every fsabench web app: nosniff, no referrer, and a strict
Content-Security-Policy (pages run only their own scripts); each app may only tighten it."""

from __future__ import annotations

from typing import Any

BASE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"


def security_headers(csp: str = BASE_CSP, **extra: str) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries (cased as browsers show them); `extra` adds e.g. Cache-Control."""
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": csp, "Referrer-Policy": "no-referrer",
               **{k.replace("_", "-"): v for k, v in extra.items()}}
    return [(name.encode(), value.encode()) for name, value in headers.items()]


class SecurityHeaders:
    """Pure ASGI middleware adding `headers` to every HTTP answer (streaming untouched)."""

    def __init__(self, app: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.app, self.headers = app, headers if headers is not None else security_headers()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {self_name.lower() for self_name, _ in self.headers}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + self.headers
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)
