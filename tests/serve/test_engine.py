"""The batching engine on its own: a batch waits only for requests that are on their way; continuous
batching answers as in-process `hf:` and lets a short request pass a long one."""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import pytest

from fsabench.models import load_model
from fsabench.models.base import Request
from fsabench.serve.engine import Answer, Engine, FairQueue, Job


def job(loop: asyncio.AbstractEventLoop, client: str = "a") -> Job:
    return Job(Request(id="", prompt="Cold soup.", max_new_tokens=4), 0, asyncio.Queue(), loop, client=client)


def test_a_batch_waits_only_for_requests_on_their_way():
    loop = asyncio.new_event_loop()
    try:
        lane = FairQueue()
        start = time.monotonic()
        with pytest.raises(queue.Empty):  # nothing announced: a lone request's batch starts at once
            lane.get_more(time.monotonic() + 5)
        assert time.monotonic() - start < 0.5

        lane.expect(+1)  # a request is being checked: the batch waits for its jobs (and not a moment longer)
        coming = [job(loop), job(loop)]
        threading.Timer(0.1, lane.put_all, args=(coming,)).start()
        assert lane.get_more(time.monotonic() + 5) is coming[0]
        assert lane.get_more(time.monotonic() + 5) is coming[1]
        start = time.monotonic()
        with pytest.raises(queue.Empty):
            lane.get_more(time.monotonic() + 5)
        assert time.monotonic() - start < 0.5

        lane.expect(+1)  # announced, then refused (a 400): the wait ends with it
        threading.Timer(0.1, lane.expect, args=(-1,)).start()
        start = time.monotonic()
        with pytest.raises(queue.Empty):
            lane.get_more(time.monotonic() + 5)
        assert time.monotonic() - start < 2.0

        lane.expect(+1)  # announced but slow: the wait is still bounded by the deadline
        start = time.monotonic()
        with pytest.raises(queue.Empty):
            lane.get_more(time.monotonic() + 0.1)
        assert 0.05 < time.monotonic() - start < 2.0
    finally:
        loop.close()


# --- continuous batching (T5 and Llama families, hf:) ----------------------------------------------------
SENTENCES = ["Cold soup.", "The staff was friendly but the pasta was bland and overpriced.", "Great sushi!",
             "We waited an hour for a table, then the waiter forgot our drinks.", "Nice view.", "Fine."]


async def answers_in_finish_order(engine: Engine, batches: list[list[tuple[Request, int]]]) -> list[tuple[int, Answer]]:
    """Submit each batch of (request, min_tokens) once the engine is decoding the previous one; return
    (index, answer) in the order the answers arrive."""
    loop, events = asyncio.get_running_loop(), asyncio.Queue()
    index, finished = 0, []
    for batch in batches:
        steps = engine.stats.steps
        for request, minimum in batch:
            engine.submit(Job(request, index, events, loop, min_tokens=minimum))
            index += 1
        for _ in range(500):  # bounded: until the engine has taken a step with these rows
            if engine.stats.steps > steps:
                break
            await asyncio.sleep(0.01)
    while len(finished) < index:
        kind, at, payload = await asyncio.wait_for(events.get(), timeout=60)
        if kind == "done":
            assert isinstance(payload, Answer), payload
            finished.append((at, payload))
    return finished


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_llama"])
def test_continuous_batching_answers_as_in_process_and_lets_short_requests_pass(model, request):
    adapter = load_model(f"hf:{request.getfixturevalue(model)}", batch_size=4)
    engine = Engine(adapter, batch_size=4, batch_wait=0.0)
    try:
        assert engine.continuous
        budgets = [2, 90, 5, 40, 3, 17]  # very different answer lengths, more rows than the batch holds
        requests = [Request(id="", prompt=s, max_new_tokens=b) for s, b in zip(SENTENCES, budgets)]
        finished = asyncio.run(answers_in_finish_order(engine, [[(r, 0) for r in requests]]))
        served = dict(finished)
        local = adapter.generate(requests)  # in-process: length-sorted static batches
        assert [served[i].text for i in range(len(requests))] == [c.text for c in local]
        assert [served[i].completion_tokens for i in range(len(requests))] == [c.completion_tokens for c in local]

        # a short request admitted while a long one decodes (same lane) is answered first
        long = Request(id="", prompt=SENTENCES[1], max_new_tokens=120)
        short = Request(id="", prompt=SENTENCES[0], max_new_tokens=3)
        finished = asyncio.run(answers_in_finish_order(engine, [[(long, 120)], [(short, 0)]]))
        assert [at for at, _ in finished] == [1, 0]
        assert finished[1][1].completion_tokens == 120 and finished[0][1].completion_tokens <= 3
    finally:
        engine.close()


def test_serve_picks_the_decoding_path_in_process_hf_picks(tiny_llama, monkeypatch):
    """FSABENCH_STATIC_GENERATE=1 and reduced precision keep static batches in `serve` as in `fsabench run`,
    so a served answer comes from the path the in-process answer it is compared with came from."""
    adapter = load_model(f"hf:{tiny_llama}", batch_size=4)
    engines = [Engine(adapter, batch_size=4, batch_wait=0.0)]
    assert engines[0].continuous
    monkeypatch.setenv("FSABENCH_STATIC_GENERATE", "1")
    engines.append(Engine(adapter, batch_size=4, batch_wait=0.0))
    assert not engines[1].continuous
    monkeypatch.delenv("FSABENCH_STATIC_GENERATE")
    engines.append(Engine(load_model(f"hf:{tiny_llama}", batch_size=4, dtype="bfloat16"), batch_size=4, batch_wait=0.0))
    assert not engines[2].continuous
    for engine in engines:
        engine.close()
