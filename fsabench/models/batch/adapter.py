"""`--batch`: a model adapter that answers the requests the cache lacks through a provider batch API.

    keys  = cache keys of the requests (exactly as online: same cache, same keys)
    hits  = answers already in the cache
    claim = the rest, recorded write-ahead into batch jobs (ledger.py), split at the provider's limits,
            within --max-cost; keys already in another live batch are left to it
    drive = upload, create, poll, collect (driver.py); --no-wait stops after submitting
    read  = every answer from the cache (cached=False: this run paid for it), failures with their cause

With `--batch-file` the adapter only writes the input file; with `--batch-results` it only imports one.
Either way nothing is sent and the same command can be repeated.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fsabench.errors import FsabenchError
from fsabench.models.base import Completion, Request
from fsabench.models.batch.files import InputWriter, dumps, read_results
from fsabench.models.batch.ledger import Ledger
from fsabench.models.batch.pricing import estimate
from fsabench.models.cache import cache_key, canonical, model_key, request_payload

log = logging.getLogger("fsabench")


class BatchPending(FsabenchError):
    """The task's requests are in batches that have not ended (or were written to --batch-file)."""


@dataclass(frozen=True)
class BatchSettings:
    poll: float = 30.0
    no_wait: bool = False
    retry_failed: bool = False
    file: Path | None = None
    results: Path | None = None
    max_cost: float | None = None


def limit_from_env(name: str, provider_limit: int) -> int:
    """FSABENCH_BATCH_MAX_REQUESTS / _MAX_BYTES: smaller batches than the provider allows (tests, quotas)."""
    value = os.environ.get(name)
    return min(provider_limit, int(value)) if value and value.isdigit() and int(value) > 0 else provider_limit


def client_for(inner: Any):
    """The batch client for an adapter: openai-compat:, litellm:openai/..., litellm:anthropic/..."""
    scheme = inner.name.partition(":")[0]
    if scheme == "openai-compat":
        from fsabench.models.batch.openai import MAX_BYTES, MAX_REQUESTS, OpenAIBatches

        return OpenAIBatches(inner.api_base, inner.model, priced=False,  # as online: openai-compat records no cost
                             max_requests=limit_from_env("FSABENCH_BATCH_MAX_REQUESTS", MAX_REQUESTS),
                             max_bytes=limit_from_env("FSABENCH_BATCH_MAX_BYTES", MAX_BYTES))
    provider, _, model = str(getattr(inner, "target", "")).partition("/")
    if scheme == "litellm" and provider == "openai":
        from fsabench.models.batch.openai import MAX_BYTES, MAX_REQUESTS, OpenAIBatches

        return OpenAIBatches(inner.api_base or "https://api.openai.com/v1", model, key_env=("OPENAI_API_KEY",),
                             max_requests=limit_from_env("FSABENCH_BATCH_MAX_REQUESTS", MAX_REQUESTS),
                             max_bytes=limit_from_env("FSABENCH_BATCH_MAX_BYTES", MAX_BYTES))
    if scheme == "litellm" and provider == "anthropic":
        from fsabench.models.batch.anthropic import MAX_BYTES, MAX_REQUESTS, AnthropicBatches

        return AnthropicBatches(inner.api_base, model,
                                max_requests=limit_from_env("FSABENCH_BATCH_MAX_REQUESTS", MAX_REQUESTS),
                                max_bytes=limit_from_env("FSABENCH_BATCH_MAX_BYTES", MAX_BYTES))
    raise FsabenchError(f"--batch: {inner.name} has no batch API fsabench knows",
                        hint="use an openai-compat: endpoint with /v1/batches, litellm:openai/MODEL or "
                             "litellm:anthropic/MODEL, or drop --batch")


class BatchAdapter:
    """Wraps the cached adapter (models/cache.py CachedAdapter); `wait` is set by evaluate for its second pass."""

    def __init__(self, cached: Any, settings: BatchSettings) -> None:
        self.inner, self.cache, self.settings_ = cached.inner, cached.cache, settings
        self.name = cached.name
        self.wait = False
        self.spent = 0.0  # estimated cost of the requests this process submitted (--max-cost)
        self._model: str | None = None
        self._client = None
        self._ledger: Ledger | None = None
        self._driver = None
        self._writer = InputWriter(Path(settings.file)) if settings.file else None
        self._results = read_results(Path(settings.results)) if settings.results else None

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def settings(self) -> dict[str, Any]:
        return {**self.inner.settings(), "batch": self._mode()}

    def waits_after_submit(self) -> bool:
        """--batch without --no-wait: after submitting every task, wait and collect."""
        return self._writer is None and self._results is None and not self.settings_.no_wait

    def _mode(self) -> str:
        return "file" if self._writer else "results" if self._results is not None else "api"

    # --- generate ---------------------------------------------------------------------------
    def generate(self, requests: Sequence[Request]) -> list[Completion | None]:
        if self._model is None:
            self._model = canonical(model_key(self.inner))
        keys = [cache_key(self._model, r) for r in requests]
        hits = self.cache.get_many(keys)
        if all(k in hits for k in keys):
            return [hits[k] for k in keys]
        budget = getattr(self.inner, "max_new_tokens", None)
        sent = {k: replace(r, max_new_tokens=budget) if budget else r for k, r in zip(keys, requests) if k not in hits}
        if self._writer is not None:
            return self._write(sent)
        if self._results is not None:
            return self._import(keys, requests, hits)
        return self._via_api(keys, requests, hits, sent)

    def _write(self, sent: dict[str, Request]) -> list[Completion | None]:
        model = model_name(self.inner)
        from fsabench.models.batch.openai import input_line

        total = self._writer.add({k: dumps(input_line(k, model, r)) for k, r in sent.items()})
        raise BatchPending(f"{len(sent)} uncached requests written to {self._writer.path} ({total} in the file)",
                           hint=f"run them (e.g. `vllm run-batch -i {self._writer.path} -o OUT.jsonl --model ...`), "
                                "then the same command with --batch-results OUT.jsonl instead of --batch-file")

    def _import(self, keys: list[str], requests: Sequence[Request], hits: dict) -> list[Completion | None]:
        from fsabench.models.batch.openai import result_of
        from fsabench.models.batch.pricing import batch_prices

        priced = not self.inner.name.startswith("openai-compat:")  # as online: a local server has no price
        prices = batch_prices(model_name(self.inner), "openai") if priced else None
        out: list[Completion | None] = []
        for key, request in zip(keys, requests):
            if key in hits:
                out.append(hits[key])
            elif key not in self._results:
                out.append(Completion(text=None, error=f"no line for this request in {self.settings_.results}"))
            else:
                completion = result_of(self._results[key], prices)
                if completion.error is None:
                    self.cache.put(key, self.name, request, completion)
                out.append(completion)
        return out

    def _via_api(self, keys: list[str], requests: Sequence[Request], hits: dict,
                 sent: dict[str, Request]) -> list[Completion | None]:
        from fsabench.models.batch.driver import Driver

        client = self._client_()
        ledger = self._ledger_()
        lines = {k: dumps(client.line(k, r)) for k, r in sent.items()}
        affordable = self._within_budget(client, sent, lines)
        asked = dict(zip(keys, requests))  # the cache stores the request as asked (before a --max-new-tokens override)
        wanted = {k: (json.dumps(request_payload(asked[k]), ensure_ascii=False), lines[k]) for k in affordable}
        claim = ledger.claim(client.provider, client.endpoint, self._model, self.name, wanted,
                             self.settings_.retry_failed, client.max_requests, client.max_bytes)
        if self._driver is None:  # one per run: it remembers what it last reported of each batch
            self._driver = Driver(ledger, client, self.cache, self.cache.path.parent / "batches", self.settings_.poll)
        driver = self._driver
        for job in claim.jobs:
            driver.submit(job)
        if self.wait:
            driver.wait(claim.jobs)
        else:
            left = [j for j in claim.jobs if not driver.step(j)]
            if left:
                batch_ids = [ledger.job(j).batch_id for j in left]
                raise BatchPending(f"{len(wanted)} requests in batch(es) {', '.join(map(str, batch_ids))} not ended yet",
                                   hint="run the same command again to collect them")
        return self._read(keys, hits, affordable, driver.collected)

    def _read(self, keys: list[str], hits: dict, affordable: list[str], collected: dict[str, Completion]) -> list:
        answers = {**collected, **self.cache.get_many(affordable)}
        failures = self._ledger_().failures(self._model, [k for k in affordable if k not in answers])
        chosen = set(affordable)
        out: list[Completion | None] = []
        for key in keys:
            if key in hits:
                out.append(hits[key])
            elif key not in chosen:
                out.append(None)  # over --max-cost: never sent
            elif key in answers:
                out.append(replace(answers[key], cached=False))
            else:
                out.append(Completion(text=None, error=failures.get(key, "the batch ended without an answer for it")))
        return out

    def _within_budget(self, client: Any, sent: dict[str, Request], lines: dict[str, str]) -> list[str]:
        """The keys to submit: all of them, or the prefix whose estimated batch cost fits --max-cost."""
        if self.settings_.max_cost is None:
            return list(sent)
        paid = self._ledger_().live(self._model, list(sent))  # already in a batch: no new money
        chosen = []
        for key, request in sent.items():
            if key in paid:
                chosen.append(key)
                continue
            cost = estimate(getattr(client, "prices", None), lines[key], request.max_new_tokens)
            if self.spent + cost > self.settings_.max_cost:
                if not self.wait:  # said once, on the submitting pass
                    log.warning(f"--max-cost {self.settings_.max_cost}: requests past the budget not submitted "
                                f"(estimated batch cost ${self.spent:.4f})")
                return chosen + [k for k in sent if k in paid and k not in chosen]
            self.spent += cost
            chosen.append(key)
        return chosen

    def _client_(self):
        if self._client is None:
            self._client = client_for(self.inner)
        return self._client

    def _ledger_(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.cache.path)
        return self._ledger


def model_name(inner: Any) -> str:
    """The model name the server sees: `#name` of openai-compat:, the part after `provider/` of litellm:."""
    if inner.name.startswith("openai-compat:"):
        return inner.model or "default"
    target = str(getattr(inner, "target", inner.name))
    return target.partition("/")[2] or target
