"""Issue 22, class 4: any answer from an endpoint or adapter is recorded (failed, with its cause), never fatal."""

from __future__ import annotations

import http.server
import json
import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsabench.models.answers import check_completion
from fsabench.models.base import Completion
from fsabench.models.cache import maybe_cached
from fsabench.models.engine import Transient
from fsabench.models.openai_compat import OpenAICompatAdapter, parse_chat_answer
from fsabench.results import load_result, save_result
from fsabench.runner import RunOptions, run_task
from fsabench.tasks.registry import build_registry
from tests.conftest import DATA_DIR

HOSTILE = [Completion(text="\ud800"), Completion(text="positive", prompt_tokens=-3),
           Completion(text="positive", completion_tokens=float("nan")), Completion(text="positive", cost_usd=math.inf),
           Completion(text="positive", prompt_tokens=10**30), Completion(text=None),
           Completion(text=b"positive"), "positive", Completion(text="positive", prompt_tokens=True),
           Completion(text="negative", prompt_tokens=7, completion_tokens=1, cost_usd=0.5)]


class Scripted:
    """An adapter in the test's process that answers with whatever it is given."""

    prompt_style = "chat"

    def __init__(self, answers, name: str = "test:hostile") -> None:
        self.name, self.answers, self.calls = name, answers, 0

    def identity(self):
        return {"script": self.name}

    def settings(self):
        return {}

    def generate(self, requests):
        self.calls += 1
        if isinstance(self.answers, Exception):
            raise self.answers
        return self.answers(requests) if callable(self.answers) else list(self.answers[:len(requests)])


def run(adapter, limit=len(HOSTILE)):
    return run_task(build_registry().spec("sc-sst2"), adapter, DATA_DIR, RunOptions(limit=limit))


def test_hostile_answers_are_recorded_as_failed_and_the_run_completes(tmp_path):
    result = run(Scripted(HOSTILE))
    errors = [r.error for r in result.examples]
    assert result.complete and len(result.examples) == len(HOSTILE)
    assert "lone surrogate U+D800" in errors[0] and "prompt_tokens=-3" in errors[1]
    assert "completion_tokens=nan" in errors[2] and "cost_usd=inf" in errors[3]
    assert "prompt_tokens=1000000000000000000000000000000" in errors[4] and "no text" in errors[5]
    assert "bytes, not text" in errors[6] and "returned str, not a Completion" in errors[7]
    assert "prompt_tokens=True" in errors[8] and errors[9] is None
    assert result.usage.failed == 9 and result.usage.prompt_tokens == 7 and result.usage.cost_usd == 0.5
    save_result(result, tmp_path / "r.json")  # storable: no surrogate, no NaN
    assert load_result(tmp_path / "r.json").usage.failed == 9


@pytest.mark.parametrize("answers, cause", [
    (RuntimeError("CUDA out of memory"), "the adapter raised RuntimeError: CUDA out of memory"),
    (lambda requests: [Completion(text="positive")] * (len(requests) - 1), "returned 3 answers for 4 requests"),
    (lambda requests: [Completion(text="positive")] * (len(requests) + 2), "returned 6 answers for 4 requests"),
    (lambda requests: None, "returned NoneType, not a list of completions")])
def test_an_adapter_that_raises_or_miscounts_fails_its_batch_not_the_run(answers, cause):
    result = run(Scripted(answers), limit=4)
    assert result.complete and all(cause in r.error for r in result.examples) and len(result.examples) == 4


def test_failed_answers_never_reach_the_cache_and_a_rerun_asks_again(tmp_path):
    first = maybe_cached(Scripted([Completion(text="\udfff")] * 3), tmp_path)
    assert run(first, limit=3).usage.failed == 3
    good = Scripted(lambda requests: [Completion(text="positive")] * len(requests))
    second = run(maybe_cached(good, tmp_path), limit=3)
    assert good.calls == 1 and second.usage.failed == 0 and second.usage.cached == 0


class Endpoint(http.server.BaseHTTPRequestHandler):
    body = b""
    disable_nagle_algorithm = True

    def do_GET(self):  # noqa: N802
        self._send(b'{"data": [{"id": "m"}]}')

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self._send(type(self).body)

    def _send(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("body, cause", [
    (b'{"choices": [{"message": {"content": "\\ud800"}}]}', "lone surrogate U+D800"),
    (b'{"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": NaN}}', "malformed answer"),
    (b'{"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": -1}}', "prompt_tokens=-1"),
    (b'{"choices": [{"message": {"content": "ok"}}], "usage": [1]}', None),
    (b'{"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "malformed answer")])
def test_an_endpoint_answer_is_recorded_never_fatal(body, cause):
    handler = type("H", (Endpoint,), {"body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    adapter = OpenAICompatAdapter(f"openai-compat:http://127.0.0.1:{server.server_address[1]}/v1#m",
                                  f"http://127.0.0.1:{server.server_address[1]}/v1#m", max_retries=0, timeout=10)
    try:
        result = run(adapter, limit=2)
    finally:
        adapter.close()
        server.shutdown()
        server.server_close()
    assert result.complete and len(result.examples) == 2
    errors = [r.error for r in result.examples]
    assert all(cause in e for e in errors) if cause else errors == [None, None]


@settings(max_examples=80, deadline=None)
@given(st.builds(Completion, text=st.none() | st.text() | st.binary(max_size=4) | st.integers(),
                 error=st.none() | st.text(max_size=20),
                 prompt_tokens=st.none() | st.integers() | st.floats() | st.text(max_size=3),
                 completion_tokens=st.none() | st.integers() | st.floats(),
                 cost_usd=st.none() | st.floats() | st.integers() | st.booleans()))
def test_any_completion_checks_to_a_storable_one(value):
    checked = check_completion(value)
    json.dumps(checked.__dict__ | {"extra": None}, allow_nan=False).encode("utf-8")
    assert (checked.text is None) == (checked.error is not None) or checked.logprobs is not None
    assert all(v is None or (type(v) is int and v >= 0) for v in (checked.prompt_tokens, checked.completion_tokens))


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=300) | st.recursive(st.none() | st.text() | st.integers() | st.floats(allow_nan=False),
                                               lambda x: st.lists(x, max_size=3) | st.dictionaries(
                                                   st.sampled_from(["choices", "message", "content", "usage", "x"]),
                                                   x, max_size=3), max_leaves=12).map(lambda v: json.dumps(v).encode()))
def test_any_endpoint_body_parses_to_a_completion_or_a_transient_failure(raw):
    try:
        assert isinstance(check_completion(parse_chat_answer(raw)), Completion)
    except Transient:
        pass
