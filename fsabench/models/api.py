"""API models: `litellm:<model>` (any provider litellm knows) on the shared async engine (engine.py).

API keys come from the environment or litellm's own config; they are never passed, stored, cached
or logged by fsabench, and error text is scrubbed of anything that looks like one.
"""

from __future__ import annotations

import os
import re
from typing import Any

from fsabench.models.base import Completion, Request
from fsabench.models.engine import (FATAL_STATUSES, MAX_RETRY_AFTER, UNREACHABLE_BUDGET_S,  # noqa: F401  (re-exported)
                                    AsyncAPIAdapter, LoopThread, OnCompletion, Permanent, Transient, backoff_delay,
                                    messages_of, parse_retry_after, retryable_status, scrub)


LEAN_PROVIDERS = {"hosted_vllm": ("HOSTED_VLLM_API_KEY",), "openai": ("OPENAI_API_KEY",)}
PRICED_HOSTS = ("openai.com", "azure.com", "azure-api.net")  # where litellm's cost per call matters


def lean_route(target: str, api_base: str | None) -> tuple[str, str, tuple[str, ...]] | None:
    """(base URL, served model name, key env vars) when `litellm:` can use the lean OpenAI client: an
    OpenAI-protocol provider (`hosted_vllm/`, `openai/`) at an explicit --api-base that is not a cloud
    endpoint, serving a model litellm's price map does not price (cost per call is the one thing litellm
    adds there: `openai/gpt-4o-mini` through a gateway keeps it). FSABENCH_LITELLM_LEAN=0 turns it off."""
    if not api_base or os.environ.get("FSABENCH_LITELLM_LEAN", "1") in ("0", "false", "no", "off"):
        return None
    provider, sep, model = target.partition("/")
    if not sep or not model or provider not in LEAN_PROVIDERS:
        return None
    from urllib.parse import urlparse

    parsed = urlparse(api_base)
    host = parsed.hostname or ""
    if parsed.scheme not in ("http", "https") or any(host == h or host.endswith("." + h) for h in PRICED_HOSTS):
        return None
    if provider == "openai" and priced(model):
        return None
    return api_base.rstrip("/"), model, LEAN_PROVIDERS[provider]


def priced(model: str) -> bool:
    """Is `model` in litellm's bundled price map? (read as JSON: importing litellm costs ~6 s)."""
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return False
    path = Path(list(spec.submodule_search_locations)[0]) / "model_prices_and_context_window_backup.json"
    try:
        prices = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # unknown: keep litellm, which knows
    return model in prices or f"openai/{model}" in prices


class LiteLLMAdapter(AsyncAPIAdapter):
    """`litellm:<provider>/<model>`, e.g. litellm:openai/gpt-4o-mini, litellm:hosted_vllm/NAME --api-base URL.

    `hosted_vllm/` and `openai/` at a local --api-base go through the lean aiohttp client of
    `openai-compat:` (same request, same answers, same cache key; litellm's ~7 ms of CPU per call capped
    it near 0.6 of the latency limit); everything else through litellm."""

    scheme = "litellm"

    def __init__(self, name: str, target: str, **options: Any) -> None:
        super().__init__(name, target, **options)
        self._litellm = None  # imported on the first request (~5 s): a fully cached run never pays it
        self._lean = lean_route(target, self.api_base)
        self._session = None

    async def _open(self) -> None:
        if self._lean is not None:
            if self._session is None:
                from fsabench.models.openai_compat import open_session

                self._session = open_session(self.concurrency, self.timeout, self._lean[2])
        elif self._litellm is None:
            self._litellm = import_litellm()

    async def _close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "client": "aiohttp (lean)" if self._lean else "litellm"}

    async def _call(self, request: Request) -> Completion:
        if self._lean is not None:
            from fsabench.models.openai_compat import post_chat

            base, model, _ = self._lean
            return await post_chat(self._session, base, model, request)
        litellm = self._litellm
        kwargs: dict[str, Any] = {"model": self.target, "messages": messages_of(request),
                                  "max_tokens": request.max_new_tokens, "temperature": request.temperature,
                                  "timeout": self.timeout, "max_retries": 0, "num_retries": 0}
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if self.api_base:
            kwargs["api_base"] = self.api_base
        try:
            response = await litellm.acompletion(**kwargs)
        except Exception as exc:  # noqa: BLE001 - litellm raises many types; classify_error sorts them
            raise classify_error(litellm, exc) from None
        text = response.choices[0].message.content if response.choices else None
        if text is None:
            raise Transient("answer has no message content")
        usage = getattr(response, "usage", None)
        return Completion(text=text, prompt_tokens=getattr(usage, "prompt_tokens", None),
                          completion_tokens=getattr(usage, "completion_tokens", None),
                          cost_usd=_cost(litellm, response))


def import_litellm():
    """Import litellm quietly and offline: the bundled price map, no debug banners."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    litellm.telemetry = False
    return litellm


def classify_error(litellm, exc: Exception) -> Exception:
    """litellm/openai error -> Transient or Permanent by type and HTTP status; anything else is a bug
    in our call and is returned unchanged, to be raised."""
    if isinstance(exc, litellm.Timeout):
        return Transient(f"{type(exc).__name__}: {_first_line(exc)}")
    if isinstance(exc, litellm.APIConnectionError):
        return Transient(f"{type(exc).__name__}: {_first_line(exc)}", unreachable=True)
    status = getattr(exc, "status_code", None)
    if status is None and not exc.__class__.__module__.startswith(("litellm", "openai", "httpx")):
        return exc
    if re.search(r"(?i)missing credentials|api_key|api key", str(exc)):
        return Permanent(f"no API key for {getattr(exc, 'llm_provider', None) or 'this provider'}: set the "
                         "provider's key in the environment (e.g. OPENAI_API_KEY; any value for a local server)",
                         fatal=True)
    if re.search(r"(?i)connection error|connection refused|connect call failed|name or service not known", str(exc)):
        return Transient(f"{type(exc).__name__}: {_first_line(exc)}", unreachable=True)  # litellm's 500 for a refused port
    if retryable_status(status):
        return Transient(f"HTTP {status}: {_first_line(exc)}", parse_retry_after(_retry_after_header(exc)))
    return Permanent(f"HTTP {status}: {_first_line(exc)}", fatal=status in FATAL_STATUSES)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _retry_after_header(exc: BaseException) -> str | None:
    for headers in (getattr(getattr(exc, "response", None), "headers", None),
                    getattr(exc, "litellm_response_headers", None)):
        if headers is not None and headers.get("retry-after"):
            return headers.get("retry-after")
    return None


def _cost(litellm, response) -> float | None:
    """litellm's bundled price map; None for models it does not price (local servers)."""
    try:
        cost = litellm.completion_cost(completion_response=response)
    except Exception:  # noqa: BLE001 - any pricing failure means "unknown cost", never a failed answer
        return None
    return float(cost) if cost else None
