"""The batching engine's queue on its own: a batch waits only for requests that are on their way."""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import pytest

from fsabench.models.base import Request
from fsabench.serve.engine import FairQueue, Job


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
