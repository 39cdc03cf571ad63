"""Raw HTTP over a socket, for requests no well-behaved client library will send (bad framing, stalls)."""

from __future__ import annotations

import socket


def exchange(port: int, request: bytes, *, timeout: float = 30.0) -> bytes:
    """Send ``request`` bytes to 127.0.0.1:``port`` and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_until_closed(sock)


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int | None:
    """The status code of the first response in ``response`` (None when the server sent nothing)."""
    if not response.startswith(b"HTTP/1."):
        return None
    return int(response.split(b" ", 2)[1])


def post(path: str, body: bytes = b"", headers: dict[str, str] | None = None, *, length: str | None = None) -> bytes:
    """A ``POST`` with ``Connection: close``; ``length`` overrides the Content-Length header text."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
             f"Content-Length: {len(body) if length is None else length}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
