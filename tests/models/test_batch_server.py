"""The scripted batch server speaks the real protocols: driven here by the official openai and anthropic SDKs."""

from __future__ import annotations

import json
import time

import pytest

from tests.servers.batches import BatchServerThread


@pytest.fixture(scope="module")
def server():
    return BatchServerThread()


@pytest.fixture
def batches(server):
    server.control(reset=True, batch_release=True, delays=[0.05, 0.1, 0.05], fail_rate=0.0, expire=False, hold=[])
    return server


def chat_line(custom_id: str, text: str) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "scripted", "messages": [{"role": "user", "content": text}], "max_tokens": 5}}


def wait_status(get, done: set[str], timeout: float = 60.0):
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        batch = get()
        status = getattr(batch, "status", None) or batch.processing_status
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in done:
            return batch, seen
        time.sleep(0.02)
    raise AssertionError(f"stuck in {seen}")


def test_openai_sdk_files_and_batches_round_trip(batches):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=batches.url, api_key="sk-test", max_retries=0)
    batches.control(fail_rate=0.3, delays=[0.5, 1.0, 0.5])  # long enough to see every state on a loaded machine
    data = "".join(json.dumps(chat_line(f"req-{i}", f"sentence {i}")) + "\n" for i in range(20)).encode()
    file = client.files.create(file=("input.jsonl", data), purpose="batch")
    assert file.object == "file" and file.purpose == "batch" and file.bytes == len(data)
    batch = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h",
                                  metadata={"fsabench_job": "j1"})
    assert batch.status == "validating" and batch.metadata == {"fsabench_job": "j1"}
    batch, seen = wait_status(lambda: client.batches.retrieve(batch.id), {"completed"})
    assert "in_progress" in seen and seen[-1] == "completed"  # (create answered "validating")
    assert batch.request_counts.total == 20 and batch.request_counts.completed + batch.request_counts.failed == 20
    assert 0 < batch.request_counts.failed < 20  # partial failures
    output = [json.loads(x) for x in client.files.content(batch.output_file_id).text.splitlines()]
    errors = [json.loads(x) for x in client.files.content(batch.error_file_id).text.splitlines()]
    assert {o["custom_id"] for o in output} | {e["custom_id"] for e in errors} == {f"req-{i}" for i in range(20)}
    assert all(o["response"]["status_code"] == 200 and o["response"]["body"]["choices"][0]["message"]["content"]
               for o in output)
    assert all(e["response"]["status_code"] == 500 for e in errors)
    listed = client.batches.list(limit=1)
    assert [b.id for b in listed.data] == [batch.id] and batch.id in [b.id for b in client.batches.list()]

    batches.control(delays=[0.05, 5.0, 0.05])  # cancel one in progress; expire another
    file2 = client.files.create(file=("b.jsonl", data), purpose="batch")
    doomed = client.batches.create(input_file_id=file2.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert client.batches.cancel(doomed.id).status == "cancelling"
    doomed, _ = wait_status(lambda: client.batches.retrieve(doomed.id), {"cancelled"})
    lines = client.files.content(doomed.error_file_id).text.splitlines()
    assert len(lines) == 20 and all(json.loads(x)["error"]["code"] == "batch_cancelled" for x in lines)
    batches.control(delays=[0.0, 0.05, 0.0], expire=True, fail_rate=0.0)
    late = client.batches.create(input_file_id=file2.id, endpoint="/v1/chat/completions", completion_window="24h")
    late, _ = wait_status(lambda: client.batches.retrieve(late.id), {"expired"})
    assert late.request_counts.completed == 10 and late.request_counts.failed == 10
    stats = batches.stats()
    assert stats["batches"] == 3 and stats["batch_requests"] == 60 and stats["uploads"] == 2


@pytest.mark.slow  # importing the anthropic SDK alone takes seconds here
def test_anthropic_sdk_message_batches_round_trip(batches):
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(base_url=batches.root, api_key="sk-ant-test", max_retries=0)
    batches.control(fail_rate=0.3)
    requests = [{"custom_id": f"r{i}", "params": {"model": "claude-haiku-4-5", "max_tokens": 5,
                                                  "messages": [{"role": "user", "content": f"sentence {i}"}]}}
                for i in range(20)]
    batch = client.messages.batches.create(requests=requests)
    assert batch.type == "message_batch" and batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 20
    batch, _ = wait_status(lambda: client.messages.batches.retrieve(batch.id), {"ended"})
    assert batch.results_url and batch.request_counts.succeeded + batch.request_counts.errored == 20
    results = list(client.messages.batches.results(batch.id))
    assert {r.custom_id for r in results} == {f"r{i}" for i in range(20)}
    kinds = {r.result.type for r in results}
    assert kinds == {"succeeded", "errored"}
    ok = next(r for r in results if r.result.type == "succeeded")
    assert ok.result.message.content[0].text in ("positive", "negative", "neutral")
    assert ok.result.message.usage.output_tokens == 1
    batches.control(delays=[0.0, 5.0, 0.05], fail_rate=0.0)
    doomed = client.messages.batches.create(requests=requests)
    assert client.messages.batches.cancel(doomed.id).processing_status == "canceling"
    doomed, _ = wait_status(lambda: client.messages.batches.retrieve(doomed.id), {"ended"})
    assert doomed.request_counts.canceled == 20
    assert {r.result.type for r in client.messages.batches.results(doomed.id)} == {"canceled"}
    assert [b.id for b in client.messages.batches.list(limit=5)] == [doomed.id, batch.id]
    assert batches.stats()["batches"] == 2
