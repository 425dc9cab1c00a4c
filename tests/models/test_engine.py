"""The async API engine against a real scripted server: retries, Retry-After, timeouts, failures."""

from __future__ import annotations

import json
import random
import time

import pytest

from fsabench.models import load_model
from fsabench.models.engine import backoff_delay, parse_retry_after, scrub
from fsabench.models.base import Request

ALL_FAULTS = {"429": 0.1, "500": 0.08, "timeout": 0.04, "drop": 0.04, "malformed": 0.04}  # 30% of attempts


def compat(server, **options):
    options = {"timeout": 1.0, "max_retries": 6, "backoff_base": 0.02, "concurrency": 8, **options}
    return load_model(f"openai-compat:{server.url}#scripted", **options)


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < parse_retry_after(later) <= 31


def test_backoff_is_jittered_exponential_with_retry_after_as_floor():
    rng = random.Random(0)
    delays = [backoff_delay(a, 0.5, 30, None, rng) for a in range(6) for _ in range(50)]
    assert all(0 <= d <= 30 for d in delays)
    assert max(delays[:50]) <= 0.5 and max(delays[-50:]) > 4  # grows with the attempt
    assert backoff_delay(0, 0.5, 30, 7.0, rng) >= 7.0  # the server's Retry-After is honoured


def test_scrub_removes_keys(monkeypatch):
    monkeypatch.setenv("SOMEPROVIDER_API_KEY", "abcdef123456789")
    text = scrub("auth failed for abcdef123456789 with sk-proj-1234567890abcdef, Authorization: Bearer xyz123")
    assert "abcdef123456789" not in text and "sk-proj" not in text and "xyz123" not in text


def test_every_fault_kind_is_retried_until_answered(scripted):
    scripted.control(faults=ALL_FAULTS, hang=3.0, retry_after=0.05)
    adapter = compat(scripted)
    requests = [Request(id=str(i), prompt=f"review {i}") for i in range(120)]
    answers = adapter.generate(requests)
    stats = scripted.stats()
    assert all(a.error is None and a.text in ("positive", "negative", "neutral") for a in answers)
    assert set(stats["faults"]) == set(ALL_FAULTS)  # every kind was injected and survived
    assert stats["answered"] == 120 and stats["repeated"] == 0
    assert adapter.attempts == stats["requests"] > 120
    # deterministic answers: a fault-free re-run gives the same texts
    scripted.control(faults={}, reset=True)
    assert [a.text for a in compat(scripted).generate(requests)] == [a.text for a in answers]


def test_retry_after_is_honoured(scripted):
    scripted.control(faults={"429": 1.0}, max_faults_per_prompt=1, retry_after=0.6)
    started = time.perf_counter()
    [answer] = compat(scripted, backoff_base=0.001).generate([Request(id="x", prompt="wait for me")])
    assert answer.text is not None
    assert time.perf_counter() - started >= 0.6


def test_exhausted_retries_fail_the_request_without_an_answer(scripted):
    scripted.control(faults={"500": 1.0}, max_faults_per_prompt=100)
    adapter = compat(scripted, max_retries=2)
    [answer] = adapter.generate([Request(id="x", prompt="doomed")])
    assert answer.text is None and "failed after 3 attempts" in answer.error and "HTTP 500" in answer.error
    assert scripted.stats()["requests"] == 3


def test_client_errors_are_not_retried(scripted):
    adapter = load_model(f"openai-compat:{scripted.url.replace('/v1', '/nope')}#scripted", max_retries=5)
    [answer] = adapter.generate([Request(id="x", prompt="lost")])
    assert answer.text is None and "HTTP 404" in answer.error
    assert adapter.attempts == 1


def test_concurrency_is_bounded(scripted):
    scripted.control(latency=0.05)
    compat(scripted, concurrency=4).generate([Request(id=str(i), prompt=f"p{i}") for i in range(40)])
    assert scripted.stats()["max_in_flight"] == 4


def test_cli_reports_failures_and_exits_nonzero_unless_allowed(scripted, cli, tmp_path):
    scripted.control(faults={"500": 1.0}, max_faults_per_prompt=1000)
    args = ["run", "-m", f"openai-compat:{scripted.url}#scripted", "-t", "sc-sst2", "--limit", "5",
            "--max-retries", "1", "--timeout", "2", "-o", tmp_path, "-q"]
    failed = cli(*args)
    assert failed.returncode == 1
    [path] = tmp_path.rglob("sc-sst2.json")
    result = json.loads(path.read_text())
    assert result["usage"]["failed"] == 5 and result["scores"]["all"]["failed"] == 5
    assert all(e["output"] is None and e["error"] for e in result["examples"])  # failed, not empty answers
    assert cli(*args, "--allow-failures", "--overwrite").returncode == 0


def test_bad_endpoint_string_is_one_line_error(cli, tmp_path):
    res = cli("run", "-m", "openai-compat:localhost:8000#x", "-t", "sc-sst2", "--limit", "1", "-o", tmp_path)
    assert res.returncode == 1 and "error: openai-compat model" in res.stderr and "Traceback" not in res.stderr
