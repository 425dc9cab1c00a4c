"""Raw-socket HTTP for the server tests that must send what no well-behaved client sends."""

from __future__ import annotations

import socket

STILL_OPEN = b"<still open>"  # appended when the server neither closed nor spoke for `read_for` seconds


def raw(server, data: bytes, read_for: float = 5.0) -> bytes:
    """Send bytes on a fresh connection; return everything the server sent until it closed, or that plus
    STILL_OPEN when it went quiet with the connection open."""
    host, port = server.thread.sock.getsockname()[:2]
    with socket.create_connection((host, port), timeout=read_for) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except socket.timeout:
            chunks.append(STILL_OPEN)
    return b"".join(chunks)
