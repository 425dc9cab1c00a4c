"""The response cache: keyed on model identity + full request, WAL, failures never cached, --no-cache."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import replace

from fsabench.models.base import Completion, Request
from fsabench.models.cache import CachedAdapter, ResponseCache, maybe_cached


class CountingAdapter:
    """A real (if simple) adapter: answers '<model>:<prompt>' and counts what it was asked."""

    prompt_style = "chat"

    def __init__(self, name: str, weights: str = "v1", fail: bool = False) -> None:
        self.name, self.weights, self.fail, self.asked = name, weights, fail, []

    def identity(self):
        return {"model": self.name, "weights": self.weights}

    def settings(self):
        return {"concurrency": 4, "decoding": "greedy"}

    def generate(self, requests):
        self.asked += [r.prompt for r in requests]
        if self.fail:
            return [Completion(text=None, error="boom") for _ in requests]
        return [Completion(text=f"{self.name}:{self.weights}:{r.prompt}", prompt_tokens=3, cost_usd=0.01)
                for r in requests]


def test_answers_are_served_only_to_the_same_model_and_request(tmp_path):
    cache = ResponseCache(tmp_path)
    first = CountingAdapter("api:a")
    request = Request(id="1", prompt="hello", max_new_tokens=10)
    [answer] = CachedAdapter(first, cache).generate([request])
    assert not answer.cached and first.asked == ["hello"]
    again = CountingAdapter("api:a")
    [hit] = CachedAdapter(again, cache).generate([replace(request, id="other-id")])  # the id is only a label
    assert hit.cached and hit.text == answer.text and again.asked == [] and hit.cost_usd == 0.01
    # another model, retrained weights, or any generation setting: never served the old answer
    for adapter, req in [(CountingAdapter("api:b"), request), (CountingAdapter("api:a", "v2"), request),
                         (CountingAdapter("api:a"), replace(request, max_new_tokens=11)),
                         (CountingAdapter("api:a"), replace(request, temperature=0.7)),
                         (CountingAdapter("api:a"), replace(request, stop=("\n",))),
                         (CountingAdapter("api:a"), replace(request, choices=("positive", "negative"))),
                         (CountingAdapter("api:a"), replace(request, messages=({"role": "user", "content": "hello"},)))]:
        [fresh] = CachedAdapter(adapter, cache).generate([req])
        assert not fresh.cached and adapter.asked == ["hello"]


def test_failures_are_not_cached_and_the_file_uses_wal(tmp_path):
    cache = ResponseCache(tmp_path)
    broken = CountingAdapter("api:a", fail=True)
    CachedAdapter(broken, cache).generate([Request(id="1", prompt="x")])
    assert cache.count() == 0
    healthy = CountingAdapter("api:a")
    [answer] = CachedAdapter(healthy, cache).generate([Request(id="1", prompt="x")])
    assert answer.text and healthy.asked == ["x"] and cache.count() == 1
    with sqlite3.connect(cache.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = db.execute("SELECT model, request FROM responses").fetchone()
    assert row[0] == "api:a" and json.loads(row[1])["prompt"] == "x"


def test_concurrent_writers_share_one_file(tmp_path):
    """Four caches (as four processes would open it) writing at once lose nothing."""
    def write(worker: int) -> None:
        adapter = CachedAdapter(CountingAdapter("api:a"), ResponseCache(tmp_path))
        for start in range(0, 200, 20):
            adapter.generate([Request(id="", prompt=f"{worker}-{i}") for i in range(start, start + 20)])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ResponseCache(tmp_path).count() == 800


def test_baselines_and_no_cache_bypass(tmp_path):
    from fsabench.models import load_model

    assert not isinstance(maybe_cached(load_model("baseline:gold"), tmp_path), CachedAdapter)
    assert not isinstance(maybe_cached(CountingAdapter("api:a"), tmp_path, enabled=False), CachedAdapter)
    assert isinstance(maybe_cached(CountingAdapter("api:a"), tmp_path), CachedAdapter)


def test_no_cache_flag_sends_every_request_again(scripted, cli, tmp_path):
    args = ["run", "-m", f"openai-compat:{scripted.url}#scripted", "-t", "sc-sst2", "--limit", "10",
            "--cache-dir", tmp_path / "cache", "-o", tmp_path / "out", "-q", "--overwrite"]
    assert cli(*args).returncode == 0 and scripted.stats()["requests"] == 10
    assert cli(*args).returncode == 0 and scripted.stats()["requests"] == 10  # all from the cache
    assert cli(*args, "--no-cache").returncode == 0 and scripted.stats()["requests"] == 20
