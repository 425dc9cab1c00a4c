"""uvicorn's h11 protocol with the guards it lacks, for every fsabench server (see stack.py).

uvicorn times out only idle keep-alive connections. Here, per connection:
- a deadline on receiving each request, headers and body (slowloris), re-armed for a request that
  arrived pipelined behind another (its bytes came with the first, so no new data would arm it);
- a stall limit on sending: a client whose send buffer stays full for `request_timeout` s is
  aborted (it read nothing; close() alone would wait for it to read the buffered answer forever);
- at most `max_connections` in all and `max_connections_per_client` per peer address (proxies in
  `unlimited_peers` excepted). A connection over either limit waits, unread, for a slot: up to
  `connection_queue` connections in all, each for at most `connection_queue_seconds` (first come,
  first admitted when any connection closes). Past the queue or the wait it gets a JSON 503. Apps
  whose clients open many keep-alive connections at once (the leaderboard) set a queue; with the
  default `connection_queue=0` the refusal is immediate;
- JSON for uvicorn's own 400 (malformed request line or headers), in the app's error shape;
- Nagle off (`no_delay`): without it every answer waited ~40 ms for a delayed ACK;
- a lingering close: an answer given before the client finished sending its body (a 413 from
  Content-Length) is followed by FIN, and what the client still sends is read and dropped (at most
  `LINGER_BYTES`, `LINGER_SECONDS`) before the socket closes. Closing over unread data makes the kernel
  send RST, and the client sees "connection reset" instead of the 413 (RFC 9112 section 9.6).
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable
from typing import Any

from fsabench.web.limits import LOG, Limits, error_json


LINGER_SECONDS = 2.0
LINGER_BYTES = 16 * 2 ** 20


class LingeringTransport:
    """The transport uvicorn sees: `close()` while the client is still sending its body half-closes and
    lets the protocol drain (module docstring); everything else is the real transport's."""

    def __init__(self, transport: Any, protocol: Any) -> None:
        self._transport, self._protocol = transport, protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        import h11

        real, protocol = self._transport, self._protocol
        if protocol._lingering is not None or real.is_closing() or protocol.conn.their_state is not h11.SEND_BODY \
                or not real.can_write_eof():
            real.close()
            return
        protocol._lingering = 0
        real.write_eof()  # FIN after the answer: the client reads it
        real.resume_reading()
        protocol._linger_timer = protocol.loop.call_later(LINGER_SECONDS, real.close)


def no_delay(transport: Any) -> None:
    """Nagle off. uvicorn writes an answer's head and body separately; with Nagle on, the body waits for
    the client's ACK of the head, which the client delays by up to 40 ms: every answer took >= 44 ms
    (/health included). asyncio turns Nagle off only for sockets made with proto=IPPROTO_TCP, and a
    socket made as socket(AF_INET, SOCK_STREAM) (ours, and uvicorn's own) has proto 0."""
    import socket

    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # already closed by the peer
            pass


def protocol_class(limits: Limits, shape: Callable[[int, str], dict] | None = None) -> type:
    """uvicorn's h11 protocol plus the guards it lacks (module docstring): a deadline on receiving
    each request (pipelined ones too), a stall limit on sending, connection caps with a short queue, JSON 400."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    request_timeout = limits.request_timeout
    shape = shape or error_json

    admitted: dict[str, int] = {}  # peer -> connections let in (per server: one protocol class per server)
    total = [0]
    waiting: collections.deque = collections.deque()  # connections over a limit, waiting for a slot, oldest first

    def room_for(peer: str) -> bool:
        return total[0] < limits.max_connections and (
            peer in limits.unlimited_peers or admitted.get(peer, 0) < limits.max_connections_per_client)

    class DeadlineProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _stalled: asyncio.TimerHandle | None = None
        _queued: asyncio.TimerHandle | None = None
        _admitted = False

        _framing: str | None = None
        _lingering: int | None = None  # bytes drained after a lingering close began
        _linger_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            no_delay(transport)
            super().connection_made(LingeringTransport(transport, self))
            self.conn.next_event = self._checked_next_event(self.conn.next_event)  # type: ignore[method-assign]
            self._peer = (self.client or ("-",))[0]
            if room_for(self._peer):
                self._admit()
            elif len(waiting) < limits.connection_queue:  # wait, unread, for a connection to close
                transport.pause_reading()
                waiting.append(self)
                self._queued = self.loop.call_later(limits.connection_queue_seconds, self._give_up)
            else:
                self._refuse()

        def _admit(self) -> None:
            self._admitted = True
            total[0] += 1
            admitted[self._peer] = admitted.get(self._peer, 0) + 1
            self._arm()

        def _refuse(self, waited: str = "") -> None:
            if total[0] >= limits.max_connections:  # uvicorn's own 503 would be text/plain
                self._write_error(503, f"the server is at its limit of {limits.max_connections} connections"
                                       f"{waited}; retry shortly")
                return
            LOG.info("%s refused: over %d open connections from one client", self._peer,
                     limits.max_connections_per_client)
            self._write_error(503, f"too many open connections from {self._peer} (at most "
                                   f"{limits.max_connections_per_client}){waited}; close some and retry")

        def _give_up(self) -> None:
            self._queued = None
            if self in waiting:
                waiting.remove(self)
                self._refuse(f" and none closed within {limits.connection_queue_seconds:g} s")

        def _let_in_waiting(self) -> None:
            for conn in list(waiting):
                if conn.transport.is_closing():
                    continue
                if room_for(conn._peer):
                    waiting.remove(conn)
                    if conn._queued is not None:
                        conn._queued.cancel()
                        conn._queued = None
                    conn._admit()
                    conn.transport.resume_reading()

        def data_received(self, data: bytes) -> None:
            if self._lingering is not None:  # the answer is sent: drop the rest of the body, bounded
                self._lingering += len(data)
                if self._lingering > LINGER_BYTES:
                    self.transport._transport.close()
                return
            super().data_received(data)
            if self.conn.their_state is h11.DONE or self.transport.is_closing():
                self._disarm()
            elif self._deadline is None:
                self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # a request read while the last one was answered (pipelined) gets no data_received of its own
            if self.conn.their_state is not h11.DONE and not self.transport.is_closing() and self._deadline is None:
                self._arm()

        def pause_writing(self) -> None:
            super().pause_writing()
            if self._stalled is None:
                self._stalled = self.loop.call_later(request_timeout, self._not_reading)

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._stalled is not None:
                self._stalled.cancel()
                self._stalled = None

        def connection_lost(self, exc: Exception | None) -> None:
            if self._admitted:
                self._admitted = False
                total[0] -= 1
                admitted[self._peer] -= 1
                if not admitted[self._peer]:
                    del admitted[self._peer]
                if waiting:
                    self._let_in_waiting()
            elif self in waiting:
                waiting.remove(self)
            if self._queued is not None:
                self._queued.cancel()
                self._queued = None
            self._disarm()
            if self._stalled is not None:
                self._stalled.cancel()
                self._stalled = None
            if self._linger_timer is not None:
                self._linger_timer.cancel()
                self._linger_timer = None
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:  # uvicorn's own answer to a malformed request
            self._write_error(400, self._framing or "malformed HTTP request (request line or headers)")

        def _checked_next_event(self, next_event: Callable[[], Any]) -> Callable[[], Any]:
            """h11 reads a request carrying both Transfer-Encoding and Content-Length by the chunks and
            keeps the connection: a proxy in front that trusts Content-Length sees another request boundary
            (request smuggling). RFC 9112 section 6.3: refused, and the connection closed."""
            def checked() -> Any:
                event = next_event()
                if isinstance(event, h11.Request):
                    names = {name.lower() for name, _ in event.headers}
                    if b"transfer-encoding" in names and b"content-length" in names:
                        self._framing = ("the request has both Transfer-Encoding and Content-Length (RFC 9112 "
                                         "section 6.3); send one of them")
                        raise h11.RemoteProtocolError(self._framing)
                return event
            return checked

        def _write_error(self, status: int, text: str) -> None:
            body = json.dumps(shape(status, text)).encode()
            phrase = {400: b"Bad Request", 503: b"Service Unavailable"}[status]
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                                 b"connection: close\r\n\r\n%s" % (status, phrase, len(body), body))
            self.transport.close()

        def _arm(self) -> None:
            self._deadline = self.loop.call_later(request_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.conn.their_state is not h11.DONE and not self.transport.is_closing():
                LOG.info("%s dropped: request not received within %.0f s", (self.client or ("-",))[0],
                         request_timeout)
                self.transport.close()

        def _not_reading(self) -> None:
            self._stalled = None
            LOG.info("%s dropped: did not read its answer for %.0f s", (self.client or ("-",))[0], request_timeout)
            self.transport.abort()  # close() would wait for the client to read the buffered answer

    return DeadlineProtocol
