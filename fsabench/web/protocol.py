"""uvicorn's h11 protocol with the guards it lacks, for every fsabench server (see stack.py).

uvicorn times out only idle keep-alive connections. Here, per connection:
- a deadline on receiving each request, headers and body (slowloris), re-armed for a request that
  arrived pipelined behind another (its bytes came with the first, so no new data would arm it);
- a stall limit on sending: a client whose send buffer stays full for `request_timeout` s is
  aborted (it read nothing; close() alone would wait for it to read the buffered answer forever);
- at most `max_connections` in all and `max_connections_per_client` per peer address (proxies in
  `unlimited_peers` excepted), refused at connect with a JSON 503;
- JSON for uvicorn's own 400 (malformed request line or headers), in the app's error shape.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from fsabench.web.limits import LOG, Limits, error_json


def protocol_class(limits: Limits, shape: Callable[[int, str], dict] | None = None) -> type:
    """uvicorn's h11 protocol plus the guards it lacks (module docstring): a deadline on receiving
    each request (pipelined ones too), a stall limit on sending, a per-peer connection cap, JSON 400."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    request_timeout = limits.request_timeout
    shape = shape or error_json

    class DeadlineProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _stalled: asyncio.TimerHandle | None = None

        _framing: str | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.conn.next_event = self._checked_next_event(self.conn.next_event)  # type: ignore[method-assign]
            peer = (self.client or ("-",))[0]
            if len(self.connections) > limits.max_connections:  # uvicorn's own 503 would be text/plain
                self._write_error(503, f"the server is at its limit of {limits.max_connections} connections; "
                                       "retry shortly")
                return
            cap = limits.max_connections_per_client
            if peer not in limits.unlimited_peers and \
                    sum(1 for c in self.connections if (c.client or ("-",))[0] == peer) > cap:
                LOG.info("%s refused: over %d open connections from one client", peer, cap)
                self._write_error(503, f"too many open connections from {peer} (at most "
                                       f"{limits.max_connections_per_client}); close some and retry")
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
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
            self._disarm()
            if self._stalled is not None:
                self._stalled.cancel()
                self._stalled = None
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
