"""`openai-compat:http://host:port/v1#model`: a lean aiohttp client for OpenAI-compatible servers
(vLLM, llama.cpp's server, Ollama, `fsabench serve`), on the same retrying engine as `litellm:`.

With `--launch "CMD ... {port}"` fsabench starts the server itself on a free loopback port, waits until
it answers and always stops it (models/launcher.py): `openai-compat:NAME --launch "llama-server -m
m.gguf --port {port}"`. `vllm:` and `sglang:` (models/engines.py) are this adapter with the command built.

Why a second path: litellm spends ~7 ms of CPU per call building and validating objects, which caps
it near 140 requests/s on 2 cores; this client posts the JSON and reads two fields. A bearer key, if
needed, comes from FSABENCH_API_KEY or OPENAI_API_KEY and is never stored.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from fsabench.errors import ModelError
from fsabench.jsonstrict import loads
from fsabench.models.engine import FATAL_STATUSES, AsyncAPIAdapter, Permanent, Transient, messages_of, parse_retry_after, \
    retryable_status
from fsabench.models.base import Completion, Request


def split_endpoint(target: str) -> tuple[str, str | None]:
    """'http://host:8000/v1#name' -> ('http://host:8000/v1', 'name')."""
    base, _, model = target.partition("#")
    if not base.startswith(("http://", "https://")):
        raise ModelError(f"openai-compat model {target!r} has no http(s) URL",
                         hint="write openai-compat:http://HOST:PORT/v1#MODEL")
    return base.rstrip("/"), model or None


class OpenAICompatAdapter(AsyncAPIAdapter):
    scheme = "openai-compat"

    def __init__(self, name: str, target: str, launch: str | list[str] | None = None, **options: Any) -> None:
        self._server = None
        self._launch = launch
        if launch:
            from fsabench.models.launcher import LaunchedServer, split_command

            base, model = launched_endpoint(target)
            self._server = LaunchedServer(split_command(launch), label=name, env=self._launch_env())
        else:
            base, model = split_endpoint(target)
        self._base_template = base
        options.pop("api_base", None)  # the URL is part of the model string
        asked_style = options.get("prompt_style")
        super().__init__(name, target, api_base=base, **options)
        self._style = asked_style if asked_style in ("raw", "chat") else None  # None: ask the server
        self.model = model
        self._session = None
        self._server_identity: dict[str, Any] | None = None
        self._identity_checked = False

    @property
    def prompt_style(self) -> str:  # type: ignore[override]
        """--prompt-style when given; else what the server says the model expects (`fsabench serve`
        publishes it in /v1/models: `raw` for a fine-tuned student, so it is scored with the same
        prompts as `hf:` on the same weights); else `chat`, what other OpenAI-compatible servers serve."""
        if self._style is None:
            self._check_server()
            served = (self._server_identity or {}).get("prompt_style")
            self._style = served if served in ("raw", "chat") else "chat"
        return self._style

    @prompt_style.setter
    def prompt_style(self, value: str) -> None:
        self._style = value

    def _check_server(self) -> None:
        if not self._identity_checked:
            self._ensure_started()
            self._identity_checked = True
            self._loop().run(self._fetch_models())

    # --- a launched server -----------------------------------------------------------------------
    def _launch_env(self) -> dict[str, str]:
        return {}

    def _ensure_started(self) -> None:
        """Start the launched server on first use (a fully cached run never starts it)."""
        if self._server is not None and self._server.process is None:
            self._server.start()
            template = self._base_template or "http://127.0.0.1:{port}/v1"
            self.api_base = template.replace("{port}", str(self._server.port))

    def launched_identity(self) -> dict[str, Any]:
        """The launch command (port left as {port}) with a fingerprint of every local file or folder it
        names, so other weights behind the same command are another model."""
        from fsabench.models.fingerprint import path_fingerprint
        from fsabench.models.launcher import split_command

        command = split_command(self._launch)
        files = {part: path_fingerprint(part) for part in command if "/" in part or part.endswith(".gguf")}
        return {"launch": command, "model": self.model, "files": {k: v for k, v in files.items() if v}}

    def generate(self, requests, on_completion=None):  # type: ignore[override]
        if requests:
            self._ensure_started()
        return super().generate(requests, on_completion)

    def close(self) -> None:
        super().close()
        if self._server is not None:
            self._server.stop()

    def identity(self) -> dict[str, Any]:
        """Endpoint and model name, plus the server's own model fingerprint when it publishes one
        (`fsabench serve` does), so a retrained model behind the same URL is a different model.
        A launched server is identified by its command instead (no need to start it for a cached run)."""
        if self._server is not None:
            return self.launched_identity()
        self._check_server()
        ident: dict[str, Any] = {"endpoint": self.api_base, "model": self.model}
        if self._server_identity:
            ident["server"] = self._server_identity
        return ident

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "client": "aiohttp"}

    async def _open(self) -> None:
        if self._session is None:
            self._session = open_session(self.concurrency, self.timeout)

    async def _close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _fetch_models(self) -> None:
        """Best effort: name the model from /models when the string gave none; read its fingerprint."""
        import aiohttp

        await self._open()
        data: list = []
        try:
            async with self._session.get(f"{self.api_base}/models", timeout=aiohttp.ClientTimeout(total=5)) as resp:
                if resp.status == 200:
                    data = (await resp.json(content_type=None)).get("data") or []
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, AttributeError):
            data = []
        if self.model is None:
            self.model = data[0].get("id") if data and isinstance(data[0], dict) else "default"
        for entry in data:
            if isinstance(entry, dict) and entry.get("id") == self.model and isinstance(entry.get("fsabench"), dict):
                self._server_identity = entry["fsabench"]

    async def _call(self, request: Request) -> Completion:
        if self.model is None:
            await self._fetch_models()
        return await post_chat(self._session, self.api_base, self.model, request)


def open_session(concurrency: int, timeout: float, key_vars: tuple[str, ...] = ("FSABENCH_API_KEY", "OPENAI_API_KEY")):
    """An aiohttp session with up to `concurrency` connections; a bearer key from the first env var set."""
    import aiohttp

    headers = {"Content-Type": "application/json"}
    key = next((os.environ[v] for v in key_vars if os.environ.get(v)), None)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    connector = aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=300)
    return aiohttp.ClientSession(connector=connector, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout))


async def post_chat(session: Any, base: str, model: str | None, request: Request) -> Completion:
    """POST one chat completion; HTTP and connection failures become Transient/Permanent for the engine."""
    import aiohttp

    body: dict[str, Any] = {"model": model, "messages": messages_of(request),
                            "max_tokens": request.max_new_tokens, "temperature": request.temperature}
    if request.stop:
        body["stop"] = list(request.stop)
    try:
        async with session.post(f"{base}/chat/completions", data=json.dumps(body)) as resp:
            raw = await resp.read()
            if resp.status != 200:
                message = f"HTTP {resp.status}: {raw[:200].decode('utf-8', 'replace')}"
                if retryable_status(resp.status):
                    raise Transient(message, parse_retry_after(resp.headers.get("Retry-After")))
                raise Permanent(message, fatal=resp.status in FATAL_STATUSES)
    except aiohttp.ClientConnectorError as exc:
        raise Transient(f"{type(exc).__name__}: {exc}".strip(), unreachable=True) from None
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise Transient(f"{type(exc).__name__}: {exc}".strip()) from None
    return parse_chat_answer(raw)


def launched_endpoint(target: str) -> tuple[str | None, str | None]:
    """`openai-compat:NAME --launch ...` -> (None, 'NAME'); a URL may hold {port}: 'http://127.0.0.1:{port}/v1#m'."""
    base, _, model = target.partition("#")
    if base.startswith(("http://", "https://")):
        return base.rstrip("/"), model or None
    name = model or base
    return None, (None if name in ("", "auto") else name)  # None: the first model the server lists


def parse_chat_answer(raw: bytes) -> Completion:
    """The text and token counts of a chat completion; a malformed body is a transient failure."""
    try:  # strict and bounded: a deeply nested or NaN-laden body is a malformed answer, not a crash
        payload = loads(raw, max_values=100_000, max_depth=32)
        text = payload["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise Transient(f"malformed answer: {raw[:120].decode('utf-8', 'replace')!r}") from None
    if not isinstance(text, str):
        raise Transient("answer has no message content")
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    return Completion(text=text, prompt_tokens=usage.get("prompt_tokens"),
                      completion_tokens=usage.get("completion_tokens"))
