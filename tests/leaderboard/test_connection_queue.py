"""Connections over a cap wait briefly for a slot instead of a 503 (the leaderboard's limits); past the
queue, or after the wait, the 503 is still JSON. Real server on loopback, raw sockets."""

from __future__ import annotations

import json
import socket
import time

from fsabench.leaderboard.service import ServiceConfig, limits_of
from fsabench.web import Limits, ServerThread, make_app

ASK = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def app_with(limits: Limits):
    app = make_app("small", limits)

    @app.get("/health")
    async def health() -> dict:
        return {"ok": True}

    return app


def opened(server: ServerThread, ask: bool = True) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    if ask:
        sock.sendall(ASK)
    return sock


def answer(sock: socket.socket, timeout: float) -> tuple[int, dict] | None:
    """(status, JSON body) of one answer, or None when none came within `timeout`."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += sock.recv(65536)
    except (socket.timeout, StopIteration):
        return None
    return int(head.split(b" ")[1]), json.loads(body)


def test_a_connection_over_the_cap_waits_for_a_slot_and_is_answered():
    limits = Limits(max_connections_per_client=4, connection_queue=8, connection_queue_seconds=5)
    with ServerThread(app_with(limits), limits=limits) as server:
        held = [opened(server) for _ in range(4)]
        assert all(answer(s, 5)[0] == 200 for s in held)  # four keep-alive connections, at the cap
        extra = opened(server)
        assert answer(extra, 0.5) is None  # waiting, not refused
        start = time.monotonic()
        held.pop().close()
        assert answer(extra, 5) == (200, {"ok": True})
        assert time.monotonic() - start < 2
        for sock in held + [extra]:
            sock.close()


def test_past_the_queue_or_the_wait_the_answer_is_a_json_503():
    limits = Limits(max_connections_per_client=2, connection_queue=2, connection_queue_seconds=1.0)
    with ServerThread(app_with(limits), limits=limits) as server:
        held = [opened(server) for _ in range(2)]
        assert all(answer(s, 5)[0] == 200 for s in held)
        queued = [opened(server) for _ in range(2)]
        time.sleep(0.1)
        refused = opened(server)
        status, body = answer(refused, 2)
        assert status == 503 and "too many open connections from 127.0.0.1 (at most 2)" in body["error"]["message"]
        for sock in queued:  # nothing closed within the wait
            status, body = answer(sock, 3)
            assert status == 503 and "none closed within 1 s" in body["error"]["message"]
        for sock in held + queued + [refused]:
            sock.close()


def test_the_leaderboard_queues_before_it_refuses():
    limits = limits_of(ServiceConfig(max_body=1000))
    assert limits.connection_queue > 0 and limits.max_connections_per_client >= 128
    assert Limits.for_app("serve").connection_queue == Limits.for_app("human").connection_queue == 0  # refuse at once
