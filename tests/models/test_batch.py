"""`--batch` end to end against the scripted batch server (tests/servers/batches.py): real HTTP, real SQLite."""

from __future__ import annotations

import json

import httpx
import pytest

import fsabench
from tests.servers.batches import BatchServerThread

N = 60  # sc-sst2 examples per run: small, and over the split limit used below


@pytest.fixture(scope="module")
def server():
    return BatchServerThread()


@pytest.fixture
def batches(server):
    server.control(reset=True, batch_release=True, delays=[0.02, 0.05, 0.02], fail_rate=0.0, expire=False, hold=[])
    return server


def model(server) -> str:
    return f"openai-compat:{server.url}#scripted"


def run(server, tmp_path, cache="cache", name=None, **options):
    return fsabench.evaluate(name or model(server), "sc-sst2", limit=N, cache_dir=tmp_path / cache,
                             batch_poll=0.02, **options)


def answers(result) -> list:
    return [(e.id, e.output, e.error) for e in result.examples]


def online(server, tmp_path):
    [result] = run(server, tmp_path, cache="online")
    return result


def test_batch_scores_equal_online_and_a_second_run_sends_nothing(batches, tmp_path):
    [batched] = run(batches, tmp_path, batch=True)
    stats = batches.stats()
    assert stats["batches"] == 1 and stats["batch_requests"] == N and stats["requests"] == 0
    assert batched.complete and batched.usage.failed == 0 and batched.usage.requests == N
    assert batched.model.settings["batch"] == "api"
    [again] = run(batches, tmp_path, batch=True)
    assert batches.stats()["batches"] == 1 and again.usage.cached == N
    reference = online(batches, tmp_path)
    assert answers(batched) == answers(reference) and batched.scores == reference.scores


def test_batch_answers_serve_a_later_online_run_with_the_same_token_budget(batches, tmp_path):
    [batched] = run(batches, tmp_path, batch=True, max_new_tokens=3)
    sent = [json.loads(x) for f in (tmp_path / "cache" / "batches").glob("*.jsonl") for x in f.read_text().splitlines()]
    assert len(sent) == N and {line["body"]["max_tokens"] for line in sent} == {3}
    [online_run] = run(batches, tmp_path, max_new_tokens=3)  # same cache, no --batch
    assert online_run.usage.cached == N and batches.stats()["requests"] == 0
    assert answers(online_run) == answers(batched)


def test_no_wait_submits_and_the_same_call_collects_later(batches, tmp_path):
    batches.control(hold=["progress"])
    assert run(batches, tmp_path, batch=True, no_wait=True) == []  # submitted, not scored
    assert batches.stats()["batches"] == 1
    assert run(batches, tmp_path, batch=True, no_wait=True) == []  # still running: no second batch
    batches.control(batch_release=True)
    [result] = run(batches, tmp_path, batch=True, no_wait=True)
    stats = batches.stats()
    assert result.complete and result.usage.failed == 0 and stats["batches"] == 1 and stats["batch_requests"] == N


def test_error_file_lines_fail_with_their_cause_and_retry_failed_resends_only_them(batches, tmp_path):
    batches.control(fail_rate=0.3)
    [first] = run(batches, tmp_path, batch=True)
    failed = [e for e in first.examples if e.error]
    assert 0 < len(failed) < N and first.usage.failed == len(failed)
    assert all(e.error == "batch HTTP 500: scripted batch failure" and e.output is None for e in failed)
    [same] = run(batches, tmp_path, batch=True)  # without --retry-failed: reported again, not resent
    assert batches.stats()["batches"] == 1 and same.usage.failed == len(failed)
    batches.control(fail_rate=0.0)
    [retried] = run(batches, tmp_path, batch=True, retry_failed=True)
    stats = batches.stats()
    assert stats["batches"] == 2 and stats["batch_requests"] == N + len(failed) and stats["repeated"] == 0
    assert retried.usage.failed == 0 and retried.usage.requests == len(failed)
    assert answers(retried) == answers(online(batches, tmp_path))


def test_expired_requests_are_failed_with_the_cause(batches, tmp_path):
    batches.control(expire=True)
    [result] = run(batches, tmp_path, batch=True)
    causes = {e.error for e in result.examples if e.error}
    assert result.usage.failed == N // 2 and len(causes) == 1 and "batch_expired" in causes.pop()


def test_a_batch_the_provider_lost_fails_its_requests_and_retry_failed_resends_them(batches, tmp_path):
    batches.control(hold=["progress"])
    assert run(batches, tmp_path, batch=True, no_wait=True) == []
    batches.control(forget_batches=True, batch_release=True)
    [lost] = run(batches, tmp_path, batch=True)
    assert lost.usage.failed == N and "missing" in lost.examples[0].error and "404" in lost.examples[0].error
    [retried] = run(batches, tmp_path, batch=True, retry_failed=True)
    assert retried.usage.failed == 0 and batches.stats()["batches"] == 2


def test_a_batch_cancelled_at_the_provider_fails_its_requests_with_the_cause(batches, tmp_path):
    batches.control(hold=["progress"])
    assert run(batches, tmp_path, batch=True, no_wait=True) == []
    [batch_id] = batches.stats()["batch_states"]
    httpx.post(f"{batches.url}/batches/{batch_id}/cancel").raise_for_status()  # e.g. from the provider's console
    batches.control(batch_release=True)
    [cancelled] = run(batches, tmp_path, batch=True)
    assert cancelled.usage.failed == N and "batch_cancelled" in cancelled.examples[0].error
    [retried] = run(batches, tmp_path, batch=True, retry_failed=True)
    assert retried.usage.failed == 0 and batches.stats()["batches"] == 2


def test_a_request_set_over_the_limits_is_split(batches, tmp_path, monkeypatch):
    monkeypatch.setenv("FSABENCH_BATCH_MAX_REQUESTS", "25")
    [result] = run(batches, tmp_path, batch=True)
    stats = batches.stats()
    assert stats["batches"] == 3 and stats["batch_requests"] == N and result.usage.failed == 0
    monkeypatch.setenv("FSABENCH_BATCH_MAX_REQUESTS", "1000")
    monkeypatch.setenv("FSABENCH_BATCH_MAX_BYTES", "6000")  # about 12 lines of sc-sst2 input per file
    run(batches, tmp_path, cache="by-bytes", batch=True)
    assert batches.stats()["batches"] > 4


def test_litellm_openai_batch_cost_at_batch_prices_and_max_cost_before_submitting(batches, tmp_path):
    name = "litellm:openai/gpt-4o-mini"
    [result] = run(batches, tmp_path, name=name, api_base=batches.url, batch=True)
    per_request = [e.cost_usd for e in result.examples]
    assert all(c and c > 0 for c in per_request)  # recorded per request
    record = result.examples[0]
    assert record.cost_usd == pytest.approx(record.prompt_tokens * 0.075e-6 + record.completion_tokens * 0.3e-6)
    budget = 10 * (60 / 4 * 0.075e-6 + 100 * 0.3e-6)  # ~10 requests at the pre-submit estimate
    [capped] = run(batches, tmp_path, cache="capped", name=name, api_base=batches.url, batch=True, max_cost=budget)
    assert not capped.complete and 0 < len(capped.examples) < N
    assert batches.stats()["batch_requests"] == N + len(capped.examples)


def test_litellm_anthropic_goes_through_message_batches(batches, tmp_path):
    [result] = run(batches, tmp_path, name="litellm:anthropic/claude-haiku-4-5", api_base=batches.root, batch=True)
    assert result.complete and result.usage.failed == 0 and batches.stats()["batches"] == 1
    assert all(e.output in ("positive", "negative", "neutral") for e in result.examples)
    assert result.usage.cost_usd > 0


def test_batch_file_for_an_offline_engine_and_results_imported(batches, tmp_path):
    path, output = tmp_path / "input.jsonl", tmp_path / "output.jsonl"
    assert run(batches, tmp_path, batch_file=path) == []
    lines = path.read_text().splitlines()
    assert len(lines) == N and json.loads(lines[0])["url"] == "/v1/chat/completions"
    output.write_bytes(offline_engine(batches, path.read_bytes()))  # stands in for `vllm run-batch`
    [imported] = run(batches, tmp_path, batch_results=output)
    assert imported.complete and imported.usage.failed == 0
    assert answers(imported) == answers(online(batches, tmp_path))
    [cached] = run(batches, tmp_path)  # the answers are in the cache, as if answered online
    assert cached.usage.cached == N


def test_batch_options_are_checked(tmp_path):
    with pytest.raises(fsabench.FsabenchError, match="cannot be combined"):
        fsabench.evaluate("baseline:gold", "sc-sst2", batch=True, batch_file=tmp_path / "x.jsonl")
    with pytest.raises(fsabench.FsabenchError, match="only applies to --batch"):
        fsabench.evaluate("baseline:gold", "sc-sst2", no_wait=True)
    with pytest.raises(fsabench.FsabenchError, match="no batch API"):
        fsabench.evaluate("baseline:lexicon", "sc-sst2", limit=3, batch=True, cache_dir=tmp_path, output_dir=None)


def offline_engine(server, data: bytes) -> bytes:
    """Run an input file through the server's batch API and return the output file (the vllm run-batch format)."""
    with httpx.Client(base_url=server.url) as http:
        file_id = http.post("/files", data={"purpose": "batch"}, files={"file": ("in.jsonl", data)}).json()["id"]
        batch = http.post("/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                            "completion_window": "24h"}).json()
        import time

        while batch["status"] != "completed":
            time.sleep(0.02)
            batch = http.get(f"/batches/{batch['id']}").json()
        return http.get(f"/files/{batch['output_file_id']}/content").content


@pytest.mark.slow  # three fsabench processes
def test_cli_batch_no_wait_then_collect(batches, cli, tmp_path):
    args = ["run", "-m", model(batches), "-t", "sc-sst2", "--limit", str(N), "--cache-dir", tmp_path / "cache",
            "-o", tmp_path / "out", "--batch", "--batch-poll", "0.02"]
    batches.control(hold=["progress"])
    submitted = cli(*args, "--no-wait")
    assert submitted.returncode == 0, submitted.stderr
    assert "created with 60 requests" in submitted.stderr and "not scored yet: sc-sst2" in submitted.stderr
    batches.control(batch_release=True)
    collected = cli(*args)
    assert collected.returncode == 0, collected.stderr
    assert "collected 60 answers, 0 failed" in collected.stderr and "sc-sst2" in collected.stdout
    assert batches.stats()["batches"] == 1
    wrong = cli("run", "-m", model(batches), "-t", "sc-sst2", "--no-wait")
    assert wrong.returncode == 1 and "--no-wait only applies to --batch runs" in wrong.stderr
    assert "Traceback" not in wrong.stderr
