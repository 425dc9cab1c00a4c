"""Issue 22, class 13: `serve` request parsing: duplicate JSON keys refused; Transfer-Encoding with
Content-Length refused and the connection closed (RFC 9112 section 6.3)."""

from __future__ import annotations

import json

import pytest

from fsabench.models.base import Completion
from fsabench.serve import ModelServer
from fsabench.web import Limits
from tests.serve.rawhttp import STILL_OPEN, raw


class Echo:
    """An adapter in the test's process: answers every prompt with one word."""

    name, prompt_style = "test:echo", "chat"

    def identity(self):
        return {"echo": True}

    def settings(self):
        return {}

    def generate(self, requests):
        return [Completion(text="positive", prompt_tokens=1, completion_tokens=1) for _ in requests]


@pytest.fixture(scope="module")
def server():
    srv = ModelServer(Echo(), "echo", limits=Limits(max_body=64 * 1024, request_timeout=3)).start()
    yield srv
    srv.shutdown()


def post(body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def test_a_good_request_is_answered(server):
    answer = raw(server, post(b'{"prompt": "Great food.", "max_tokens": 5}', b"Connection: close\r\n"))
    assert answer.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("body", [b'{"prompt": "a", "max_tokens": 5, "max_tokens": 100000}',
                                  b'{"prompt": "a", "prompt": ["b", "c"]}', b'{"prompt": "a", "temperature": NaN}'])
def test_duplicate_keys_and_nan_are_refused(server, body):
    answer = raw(server, post(body, b"Connection: close\r\n"))
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["message"]
    assert "the body is not valid JSON" in error and ("appears twice" in error or "NaN" in error)


def test_transfer_encoding_with_content_length_is_refused_and_the_connection_closed(server):
    smuggled = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = raw(server, smuggled)
    assert answer.startswith(b"HTTP/1.1 400") and b"Transfer-Encoding and Content-Length" in answer
    assert answer.count(b"HTTP/1.1 ") == 1 and not answer.endswith(STILL_OPEN)  # closed, nothing else answered
