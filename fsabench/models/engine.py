"""The async engine every API adapter shares (`litellm:`, `openai-compat:`).

The engine (`AsyncAPIAdapter`) runs every request on one background event loop with bounded
concurrency, a per-request timeout and retries with exponential backoff and full jitter on 429, 5xx,
timeouts, dropped connections and malformed answers, honouring Retry-After. After the last attempt
the request becomes `Completion(text=None, error=...)`: recorded as failed, never scored as an
empty answer. `openai-compat:` (models/openai_compat.py) reuses the engine with a lean HTTP client.

API keys come from the environment or litellm's own config; they are never passed, stored, cached
or logged by fsabench, and error text is scrubbed of anything that looks like one.
"""

from __future__ import annotations

import asyncio
import atexit
import email.utils
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from fsabench.errors import ModelError
from fsabench.models.base import Completion, Request

OnCompletion = Callable[[int, Completion], None]  # (index in the batch, completion), called as each arrives
MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is capped (and still counted as an attempt)


UNREACHABLE_BUDGET_S = 5.0  # an endpoint that never answered and refuses connections this long is down
FATAL_STATUSES = (401, 403, 404)  # wrong key, no access, unknown model: every other request fails the same way


class Transient(Exception):
    """A failure worth retrying (429, 5xx, timeout, dropped connection, malformed answer).

    `unreachable`: the connection itself failed (refused, DNS); retried only for a few seconds unless the
    endpoint has answered before."""

    def __init__(self, message: str, retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable


class Permanent(Exception):
    """A failure retrying cannot fix (bad request, auth, unknown model).

    `fatal`: it would fail every other request too (auth, unknown model), so the run stops sending."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


def retryable_status(status: int | None) -> bool:
    return status is None or status in (408, 409, 425, 429) or status >= 500


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (a number or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None, rng: random.Random) -> float:
    """Full jitter (AWS architecture blog): uniform(0, min(cap, base * 2**attempt)); a server's
    Retry-After is a floor, since retrying earlier is known to fail."""
    delay = rng.uniform(0.0, min(cap, base * 2 ** attempt))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


_SECRET_PATTERNS = (re.compile(r"\b(sk|pk|rk|gsk|xai|hf)[-_][A-Za-z0-9_\-]{8,}"),
                    re.compile(r"(?i)(api[_-]?key|authorization|bearer|token)([\"'=:\s]+)(?:bearer\s+)?[^\s\"',}]+"))


def scrub(text: str) -> str:
    """Remove anything that looks like a credential from an error message before it is stored."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and re.search(r"(KEY|TOKEN|SECRET|PASSWORD)", name):
            text = text.replace(value, "***")
    text = _SECRET_PATTERNS[0].sub("***", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return text[:500]


class LoopThread:
    """One event loop on a daemon thread for an adapter's lifetime: connections are reused across
    `generate` calls, and `generate` works whether or not the caller already runs an event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="fsabench-api")
        self.thread.start()

    def close(self, coro) -> None:
        """Run a clean-up coroutine (closing HTTP sessions), then stop the loop."""
        async def finish() -> None:
            await coro
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:  # e.g. litellm's logging worker
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(finish(), self.loop).result(5)
        except (RuntimeError, TimeoutError):
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)

    def run(self, coro) -> Any:
        future: Future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()


def messages_of(request: Request) -> list[dict[str, str]]:
    return list(request.messages) if request.messages else [{"role": "user", "content": request.prompt}]


class AsyncAPIAdapter:
    """Shared engine; subclasses implement `_call(request) -> Completion` and raise Transient/Permanent."""

    prompt_style = "chat"
    scheme = "api"

    def __init__(self, name: str, target: str, concurrency: int = 16, timeout: float = 60.0, max_retries: int = 6,
                 api_base: str | None = None, backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 prompt_style: str | None = None, seed: int = 0, max_new_tokens: int | None = None,
                 **_: Any) -> None:
        if concurrency < 1 or timeout <= 0 or max_retries < 0:
            raise ModelError(f"{name}: concurrency >= 1, timeout > 0 and max retries >= 0 are needed",
                             hint="check --concurrency, --timeout and --max-retries")
        self.name, self.target, self.api_base = name, target, api_base
        self.concurrency, self.timeout, self.max_retries = concurrency, timeout, max_retries
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        if prompt_style in ("raw", "chat"):
            self.prompt_style = prompt_style
        self.max_new_tokens = max_new_tokens  # --max-new-tokens: overrides the task's budget
        self._rng = random.Random(seed)
        self._runner: LoopThread | None = None
        self.attempts = 0  # requests sent, retries included (for benchmarks and tests)
        self._fatal: str | None = None  # set by an error every request would hit: the rest fail at once
        self._answered = 0
        self._unreachable_since: float | None = None

    # --- protocol ------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        return {"model": self.target, "api_base": self.api_base}

    def settings(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "timeout": self.timeout, "max_retries": self.max_retries,
                "decoding": "greedy", "prompt_style": self.prompt_style,
                **({"max_new_tokens": self.max_new_tokens} if self.max_new_tokens else {})}

    def generate(self, requests: Sequence[Request], on_completion: OnCompletion | None = None) -> list[Completion]:
        """Answer every request concurrently; `on_completion` sees each answer as it arrives (the
        cache commits it there, so a killed run loses nothing already answered)."""
        if not requests:
            return []
        if self.max_new_tokens:
            requests = [replace(r, max_new_tokens=self.max_new_tokens) for r in requests]
        return self._loop().run(self._generate(list(requests), on_completion))

    def _loop(self) -> LoopThread:
        if self._runner is None:
            self._runner = LoopThread()
            atexit.register(self.close)
        return self._runner

    def close(self) -> None:
        """Close connections and the event loop (also run at exit)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            runner.close(self._close())

    async def _close(self) -> None:
        """Release per-loop resources."""

    # --- engine --------------------------------------------------------------------------------
    async def _generate(self, requests: list[Request], on_completion: OnCompletion | None) -> list[Completion]:
        await self._open()
        gate = asyncio.Semaphore(self.concurrency)

        async def one(index: int, request: Request) -> Completion:
            completion = await self._with_retries(request, gate)
            if on_completion is not None:
                on_completion(index, completion)
            return completion

        return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))

    async def _with_retries(self, request: Request, gate: asyncio.Semaphore) -> Completion:
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            retry_after, unreachable = None, False
            async with gate:  # released while backing off, so other requests keep the slots busy
                if self._fatal is not None:
                    return Completion(text=None, error=self._fatal)
                self.attempts += 1
                try:
                    completion = await asyncio.wait_for(self._call(request), self.timeout + 5.0)
                    self._answered += 1
                    return completion
                except Permanent as exc:
                    error = scrub(f"{type(exc).__name__}: {exc}")
                    if exc.fatal and self._fatal is None:
                        self._fatal = f"{error} (not retried: every request would fail the same way)"
                    return Completion(text=None, error=error)
                except Transient as exc:
                    last, retry_after, unreachable = f"{exc}", exc.retry_after, exc.unreachable
                except asyncio.TimeoutError:
                    last = f"timed out after {self.timeout:g}s"
            if unreachable and self._give_up_unreachable(last):
                return Completion(text=None, error=self._fatal)
            if attempt < self.max_retries:
                delay = backoff_delay(attempt, self.backoff_base, self.backoff_cap, retry_after, self._rng)
                await asyncio.sleep(min(delay, 1.0) if unreachable else delay)
        return Completion(text=None, error=scrub(f"failed after {self.max_retries + 1} attempts: {last}"))

    def _give_up_unreachable(self, last: str) -> bool:
        """True once an endpoint that never answered has refused connections for UNREACHABLE_BUDGET_S."""
        if self._answered:
            return False
        now = time.monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = now
        if now - self._unreachable_since < UNREACHABLE_BUDGET_S:
            return False
        if self._fatal is None:
            where = f" at {self.api_base}" if self.api_base else ""
            self._fatal = scrub(f"cannot connect{where} ({last}) for {UNREACHABLE_BUDGET_S:g}s; is the server "
                                "running and the URL right?")
        return True

    async def _open(self) -> None:
        """Create per-loop resources (HTTP sessions) on first use."""

    async def _call(self, request: Request) -> Completion:
        raise NotImplementedError
