"""`fsabench serve` on FastAPI + uvicorn, driven by the real `openai` client and by raw sockets.

The model is the untrained tiny T5 (random weights): it rarely emits EOS, so `min_tokens` /
`max_tokens` make answers of an exact length, and a long answer really takes hundreds of steps.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import openai
import pytest

from fsabench.models import load_model
from fsabench.models.base import Request
from fsabench.serve import ModelServer
from fsabench.web import Limits
from tests.serve.rawhttp import raw


@pytest.fixture(scope="module")
def served(tiny_t5):
    adapter = load_model(f"hf:{tiny_t5}", batch_size=8)
    server = ModelServer(adapter, "tiny", batch_size=8, batch_wait=0.05, max_tokens=512,
                         limits=Limits(max_body=64 * 1024, request_timeout=1.5)).start()
    yield adapter, server
    server.shutdown()


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=served[1].url, api_key="unused", max_retries=0, timeout=60)


def health_in_under_a_second(server) -> None:
    start = time.monotonic()
    assert raw(server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200")
    assert time.monotonic() - start < 1.0


def test_openai_client_chat_completions_streaming_and_a_truncated_answer(served, client):
    chat = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "The pizza was great."}],
                                          max_tokens=5, extra_body={"min_tokens": 5})
    assert chat.choices[0].finish_reason == "length" and chat.usage.completion_tokens == 5  # cut by its budget
    assert chat.usage.prompt_tokens > 0

    done = client.completions.create(model="tiny", prompt=["Great staff.", "Cold soup."], max_tokens=4)
    assert [c.index for c in done.choices] == [0, 1] and all(isinstance(c.text, str) for c in done.choices)

    stream = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "The pizza was great."}],
                                            max_tokens=5, extra_body={"min_tokens": 5}, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text == chat.choices[0].message.content and finish == ["length"]  # streamed = the same answer
    assert chunks[-1].usage.completion_tokens == 5

    streamed = list(client.completions.create(model="tiny", prompt="Cold soup.", max_tokens=3, stream=True))
    assert streamed[-1].choices[0].finish_reason in ("length", "stop")

    cards = client.models.list().data
    assert cards[0].id == "tiny" and cards[0].model_extra["fsabench"]["prompt_style"] == "raw"


def test_each_request_keeps_its_own_budget_in_a_shared_batch(served, client):
    adapter, server = served
    answers: dict[int, object] = {}

    def ask(budget: int) -> None:
        answers[budget] = client.completions.create(model="tiny", prompt="Cold soup.", max_tokens=budget,
                                                    extra_body={"min_tokens": budget})

    threads = [threading.Thread(target=ask, args=(b,)) for b in (3, 60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers[3].usage.completion_tokens == 3 and answers[3].choices[0].finish_reason == "length"
    assert answers[60].usage.completion_tokens == 60
    # in process too (what the response cache stores): a 3-token request batched with a 40-token one
    short, long = adapter.generate([Request("a", "Cold soup.", max_new_tokens=3),
                                    Request("b", "Cold soup, rude staff and a long wait.", max_new_tokens=40)])
    assert short.completion_tokens <= 3 < long.completion_tokens


def test_refusals_name_the_field_and_the_cap(served, client):
    _, server = served
    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=messages, max_tokens=1_000_000_000)
    assert "cap of 512" in err.value.body["message"] and err.value.body["param"] == "max_tokens"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4", messages=messages)
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=messages, temperature=0.7)
    assert err.value.body["param"] == "temperature"  # refused, not silently ignored
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=messages, extra_body={"temperature": [1]})
    assert err.value.body["param"].startswith("temperature")
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=messages, extra_body={"best_guess": True})
    assert err.value.body["param"] == "best_guess"
    with pytest.raises(openai.BadRequestError) as err:  # longer than the model's 512-position window
        client.completions.create(model="tiny", prompt="soup " * 2000, max_tokens=2)
    assert "window" in err.value.body["message"]
    docs = raw(server, b"GET /docs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert docs.startswith(b"HTTP/1.1 200") and b"swagger" in docs.lower()


def test_hostile_sockets_get_4xx_and_others_keep_being_answered(served):
    _, server = served
    post = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    assert raw(server, b"BLAH\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw(server, post + b"Content-Length: abc\r\n\r\n{}").startswith(b"HTTP/1.1 400")
    assert raw(server, post + b"Content-Length: 9\r\n\r\n{not json").startswith(b"HTTP/1.1 400")
    # over the body limit: 413 from the header alone, the connection closes, the body is never a second request
    smuggled = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = raw(server, post + f"Content-Length: {200_000}\r\n\r\n".encode() + smuggled)
    assert answer.startswith(b"HTTP/1.1 413") and answer.count(b"HTTP/1.1") == 1
    health_in_under_a_second(server)

    # a slowloris client (one header byte at a time) is dropped at the request deadline (1.5 s here)
    host, port = server.thread.sock.getsockname()[:2]
    slow = socket.create_connection((host, port), timeout=10)
    start, dropped = time.monotonic(), False
    for byte in b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
        try:
            slow.sendall(bytes([byte]))
            slow.settimeout(0.2)
            if slow.recv(1) == b"":
                dropped = True
                break
        except socket.timeout:
            continue
        except OSError:
            dropped = True
            break
        if time.monotonic() - start > 8:
            break
    slow.close()
    assert dropped and time.monotonic() - start < 5
    health_in_under_a_second(server)


def test_a_huge_request_neither_starves_others_nor_outlives_its_client(served, client):
    _, server = served
    # 32 prompts x 512 forced tokens in rows of 8: continuous batching decodes one 512-token row in well
    # under a second, so the hog needs several waves of rows to still be decoding when it leaves
    body = json.dumps({"model": "tiny", "prompt": ["Cold soup."] * 32, "max_tokens": 512, "min_tokens": 512}).encode()
    host, port = server.thread.sock.getsockname()[:2]
    hog = socket.create_connection((host, port), timeout=10)
    hog.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    time.sleep(0.3)
    start = time.monotonic()
    quick = client.completions.create(model="tiny", prompt="Great staff.", max_tokens=2)
    assert quick.choices[0].text is not None and time.monotonic() - start < 1.0  # not queued behind the hog
    before = len(server.engine.stats.cancelled)
    hog.close()  # the client leaves: its generation must stop at the next step
    deadline = time.monotonic() + 10
    while len(server.engine.stats.cancelled) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.engine.stats.cancelled) > before and server.engine.stats.cancelled[-1] < 512
    health_in_under_a_second(server)
