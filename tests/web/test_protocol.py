"""The connection guards of fsabench/web/protocol.py that are not about hostile clients."""

from __future__ import annotations

import socket

from fsabench.web.protocol import no_delay


class Accepted:
    """What asyncio's transport answers for get_extra_info("socket") (the accepted socket)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str):
        return self.sock if name == "socket" else None


def test_accepted_connections_have_nagle_off():
    """A listening socket made with proto 0 (ours, uvicorn's) hands out connections asyncio leaves with
    Nagle on: each answer's body then waited ~40 ms for the client's delayed ACK."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname()) as _client:
            accepted, _ = server.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
                no_delay(Accepted(accepted))
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
