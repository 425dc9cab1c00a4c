"""`litellm:` end to end against the scripted server: faults, token counts and cost, keys, --max-cost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fsabench
from tests.conftest import DATA_DIR
from tests.models.test_engine import ALL_FAULTS

SECRET = "sk-fsabench-test-secret-0123456789"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow  # ~8 s CPU: litellm in a subprocess, retries
def test_litellm_run_with_30pct_faults_scores_every_example(scripted, cli, tmp_path):
    scripted.control(faults=ALL_FAULTS, hang=4.0, retry_after=0.05)
    cache = tmp_path / "cache"
    res = cli("run", "-m", "litellm:openai/gpt-4o-mini", "--api-base", scripted.url, "-t", "sc-sst2,atsa-rest14",
              "--limit", "40", "--timeout", "1", "--cache-dir", cache, "-o", tmp_path / "out",
              env={"OPENAI_API_KEY": SECRET})
    assert res.returncode == 0, res.stderr
    stats = scripted.stats()
    assert sum(stats["faults"].values()) >= 15 and len(stats["faults"]) == 5  # every fault kind, many times
    assert stats["answered"] == 80 and stats["repeated"] == 0
    for task in ("sc-sst2", "atsa-rest14"):
        result = load(next((tmp_path / "out").rglob(f"{task}.json")))
        assert result["complete"] and result["usage"]["failed"] == 0 and len(result["examples"]) == 40
        assert result["usage"]["prompt_tokens"] > 0 and result["usage"]["cost_usd"] > 0  # litellm's price map
        for record in result["examples"]:  # each answer is the server's answer to exactly that prompt
            assert record["output"] == scripted.server.answer_text({"messages": record["prompt"]})
            assert record["error"] is None
    # the key appears nowhere fsabench writes
    for path in [*(tmp_path / "out").rglob("*.json"), *cache.rglob("*")]:
        assert SECRET.encode() not in path.read_bytes()
    assert SECRET not in res.stdout + res.stderr


def run_budget(url: str, out: Path, cache: Path, max_cost: float) -> dict:
    results = fsabench.evaluate("litellm:openai/gpt-4o-mini", "sc-sst2", limit=100, output_dir=out, max_cost=max_cost,
                                cache_dir=cache, data_dir=DATA_DIR, api_base=url, concurrency=16, timeout=5.0)
    assert results[0].usage.failed == 0
    return load(next(out.rglob("sc-sst2.json")))


def test_max_cost_stops_cleanly_and_a_rerun_resumes_from_the_cache(scripted, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = run_budget(scripted.url, out, cache, 1e-5)  # one chunk (64 requests) already costs more
    assert first["complete"] is False and len(first["examples"]) == 64
    assert first["usage"]["cost_usd"] >= 1e-5 and scripted.stats()["requests"] == 64
    second = run_budget(scripted.url, out, cache, 1e-5)  # the done part comes from the cache, for free
    assert second["complete"] is True and len(second["examples"]) == 100
    assert second["usage"]["cached"] == 64 and second["usage"]["requests"] == 36
    assert scripted.stats()["requests"] == 100 and scripted.stats()["repeated"] == 0
    assert [e["output"] for e in second["examples"][:64]] == [e["output"] for e in first["examples"]]
