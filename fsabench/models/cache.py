"""A response cache that cannot lie: SQLite under FSABENCH_CACHE_DIR, shared by every adapter.

The key is sha256 over the model's identity (name, revision or weights fingerprint, endpoint), the
adapter's output-affecting settings and the full request (prompt, chat messages, token budget, stop
strings, temperature, likelihood choices) - never the example id, so two tasks asking the same thing
share an answer, and never the model name alone, so one model's answers are never served as another's
(lm-eval's cache keys on the request only).

WAL mode with a busy timeout makes concurrent writers (parallel runs) safe. Each answer is committed
the moment it arrives, so a run killed with kill -9 resends nothing that was already answered.
Failed requests are not cached: the next run tries them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from fsabench.errors import FsabenchError
from fsabench.models.answers import answers_of, check_completion
from fsabench.models.base import Completion, Request

CACHE_FILE = "responses.sqlite"
# Settings that change speed, not answers: left out of the key so a re-run with another
# --concurrency or --batch-size still hits.
RUNTIME_SETTINGS = frozenset({"batch_size", "device", "concurrency", "timeout", "max_retries", "client",
                              "prompt_style", "batch"})
SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    completion TEXT NOT NULL,
    created REAL NOT NULL
)"""


def request_payload(request: Request) -> dict[str, Any]:
    """Everything in a request that can change the answer (the id is only a label)."""
    return {f.name: getattr(request, f.name) for f in fields(request) if f.name != "id"}  # asdict deep-copies: slow


def model_key(adapter: Any) -> dict[str, Any]:
    settings = {k: v for k, v in adapter.settings().items() if k not in RUNTIME_SETTINGS}
    return {"name": adapter.name, "identity": adapter.identity(), "settings": settings}


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def cache_key(model: dict[str, Any] | str, request: Request) -> str:
    """sha256 of the canonical model JSON, a newline, and the canonical request JSON."""
    model_text = model if isinstance(model, str) else canonical(model)
    return hashlib.sha256(f"{model_text}\n{canonical(request_payload(request))}".encode("utf-8")).hexdigest()


class CacheUnavailable(FsabenchError):
    """The cache file cannot be opened or written (damaged, read-only, locked by another process)."""


log = logging.getLogger("fsabench")
PROBE_TIMEOUT_S = 5.0  # how long a locked cache may hold a run up before it runs without it
WRITE_TIMEOUT_S = 30.0  # how long one answer waits for another writer (parallel runs) before the cache is dropped


class ResponseCache:
    """The SQLite file; thread-safe (answers arrive on the API adapters' event-loop thread).

    Opening checks that the file is a database and writable now, before any model work. Later read or
    write failures (disk full, file replaced) switch the cache off with one warning: answers keep flowing
    into the run's result, which is what must not be lost."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / CACHE_FILE
        self.broken: str | None = None
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        while True:
            try:
                self.db = self._open_and_probe()
                break
            except sqlite3.OperationalError as exc:
                # Another process opening or writing the same file can make SQLite answer "locked" at once
                # (a journal-mode switch does not wait on the busy handler): try again until the deadline.
                if "locked" in str(exc) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise CacheUnavailable(f"{self.path}: the response cache cannot be used ({exc})",
                                       hint="fix or delete the file, point --cache-dir elsewhere, or pass --no-cache") from None
            except (sqlite3.Error, OSError) as exc:
                raise CacheUnavailable(f"{self.path}: the response cache cannot be used ({exc})",
                                       hint="fix or delete the file, point --cache-dir elsewhere, or pass --no-cache") from None
        self.lock = threading.Lock()

    def _open_and_probe(self) -> sqlite3.Connection:
        """Open in WAL mode and check, before any model work, that the file is a database we can write now."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=PROBE_TIMEOUT_S, check_same_thread=False, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={int(PROBE_TIMEOUT_S * 1000)}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses no commit
            db.execute(SCHEMA)
            db.execute("BEGIN IMMEDIATE")  # can we write at all (read-only file, locked by another run)?
            db.execute("ROLLBACK")
            db.execute("SELECT key, completion FROM responses LIMIT 1").fetchall()
            db.execute(f"PRAGMA busy_timeout={int(WRITE_TIMEOUT_S * 1000)}")
        except BaseException:
            db.close()
            raise
        return db

    def _fail(self, action: str, exc: Exception) -> None:
        if self.broken is None:
            self.broken = f"{action}: {exc}"
            log.warning(f"response cache {self.path} stopped working ({action}: {exc}); the run goes on without it "
                        "and every answer still reaches the result file")

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        if self.broken:
            return found
        unique = list(dict.fromkeys(keys))
        try:
            with self.lock:
                for start in range(0, len(unique), 500):
                    part = unique[start:start + 500]
                    marks = ",".join("?" * len(part))
                    rows = self.db.execute(f"SELECT key, completion FROM responses WHERE key IN ({marks})", part)
                    for key, blob in rows:
                        data = json.loads(blob)
                        data["logprobs"] = tuple(data["logprobs"]) if data.get("logprobs") is not None else None
                        found[key] = Completion(**data, cached=True)
        except (sqlite3.Error, ValueError, TypeError) as exc:  # damaged rows count as misses
            self._fail("read", exc)
            return {}
        return found

    def put(self, key: str, model: str, request: Request, completion: Completion) -> None:
        """Commit one answer now (autocommit); failed answers are never stored."""
        if self.broken or completion.error is not None or (completion.text is None and completion.logprobs is None):
            return
        data = asdict(completion)
        data.pop("cached")
        row = (key, model, json.dumps(request_payload(request), ensure_ascii=False),
               json.dumps(data, ensure_ascii=False), time.time())
        try:
            with self.lock:
                self.db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)", row)
        except (sqlite3.Error, ValueError) as exc:  # ValueError: text SQLite cannot hold
            self._fail("write", exc)

    def count(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self.lock:
            self.db.close()


class CachedAdapter:
    """Wraps any adapter: answers found in the cache are returned (cached=True); the rest go to the
    model, and each is stored as it arrives (adapters that stream answers take `on_completion`)."""

    def __init__(self, inner: Any, cache: ResponseCache) -> None:
        self.inner, self.cache = inner, cache
        self.name = inner.name
        self._model: str | None = None  # canonical JSON of model_key(inner), computed once

    def __getattr__(self, attr: str) -> Any:  # prompt_style, parameter_count, prepare, ... of the model
        return getattr(self.inner, attr)

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def settings(self) -> dict[str, Any]:
        return self.inner.settings()

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        if self._model is None:
            self._model = canonical(model_key(self.inner))
        keys = [cache_key(self._model, r) for r in requests]
        hits = self.cache.get_many(keys)
        results: list[Completion | None] = [hits.get(k) for k in keys]
        todo = [i for i, c in enumerate(results) if c is None]
        if not todo:
            return results  # type: ignore[return-value]
        misses = [requests[i] for i in todo]

        def store(index: int, completion: Completion | None) -> None:
            if completion is not None:  # None: left unsent (a batch adapter at --max-cost); the runner judges it
                self.cache.put(keys[todo[index]], self.name, misses[index], check_completion(completion))

        if _streams(self.inner):
            answers = answers_of(self.inner, misses, on_completion=store, unsent_ok=True)
        else:
            answers = answers_of(self.inner, misses, unsent_ok=True)
            for index, completion in enumerate(answers):
                store(index, completion)
        for index, completion in zip(todo, answers):
            results[index] = completion
        return results  # type: ignore[return-value]


def _streams(adapter: Any) -> bool:
    import inspect

    try:
        return "on_completion" in inspect.signature(adapter.generate).parameters
    except (TypeError, ValueError):
        return False


def open_cache(directory: str | Path | None) -> ResponseCache | None:
    """The response cache (--cache-dir, FSABENCH_CACHE_DIR or the user cache), or None with one warning
    when it cannot be used (damaged, read-only, locked): a run never fails for its cache."""
    from fsabench.settings import cache_dir

    try:
        return ResponseCache(cache_dir(directory))
    except CacheUnavailable as exc:
        log.warning(f"{exc}; running without the response cache")
        return None


def with_cache(adapter: Any, cache: ResponseCache | None) -> Any:
    """The adapter behind the cache; built-in baselines are never cached (they answer instantly and
    their answers depend on the task they were prepared for)."""
    if cache is None or adapter.name.startswith("baseline:"):
        return adapter
    return CachedAdapter(adapter, cache)


def maybe_cached(adapter: Any, directory: str | Path | None, enabled: bool = True) -> Any:
    """The adapter behind the shared cache at `directory`, unless disabled."""
    if not enabled or adapter.name.startswith("baseline:"):
        return adapter
    return with_cache(adapter, open_cache(directory))
