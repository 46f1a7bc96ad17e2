"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load generation only.

Why not httpx: on this 2-core machine the load tool shares the CPU with four services,
RabbitMQ and Redis, so every microsecond it spends per request is taken from what it
measures. Measured against the producer at 50 connections (``python -m bench ingest
--client httpx`` against ``--client raw``): httpx 0.28 reached ~200 requests/s with the tool
itself at ~80 % of a core and p99 over 1 s (its connection pool does not scale to 50
concurrent requests), while this client drove ~2,500/s at ~14 % of a core. This client
writes one pre-built request per call and parses only the status line, ``Content-Length``,
``Transfer-Encoding: chunked`` and ``Connection: close``.

One :class:`Connection` carries one request at a time (no pipelining), as a browser or an
app would. It only ever connects to loopback addresses (:func:`check_local`).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

__all__ = ["LOCAL_HOSTS", "Connection", "HttpError", "check_local", "get", "split_url"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class HttpError(Exception):
    """The connection broke or the answer was not HTTP/1.1 we can read."""


def check_local(url: str) -> str:
    """``url`` unchanged if it points at this machine's loopback, else ``ValueError``."""
    host = urlsplit(url).hostname
    if host not in LOCAL_HOSTS:
        raise ValueError(f"the load tool only targets 127.0.0.1, not {host!r} ({url})")
    return url


def split_url(url: str) -> tuple[str, int]:
    parts = urlsplit(check_local(url))
    return "127.0.0.1" if parts.hostname == "localhost" else str(parts.hostname), \
        parts.port or 80


class Connection:
    def __init__(self, host: str, port: int, timeout: float = 30.0,
                 headers: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        # Sent with every request (e.g. the API key: X-API-Key).
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._host_header = f"Host: {host}:{port}\r\n{extra}".encode()

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(self, method: str, path: str, body: bytes = b"",
                      content_type: str = "application/json") -> tuple[int, bytes]:
        """(status, body). Raises :class:`HttpError` (and drops the connection) on failure."""
        head = (f"{method} {path} HTTP/1.1\r\n").encode() + self._host_header
        if body or method in ("POST", "PUT"):
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n".encode()
        try:
            return await asyncio.wait_for(self._exchange(head + b"\r\n" + body), self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError, ValueError) as exc:
            self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, data: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            await self._open()
        assert self._reader is not None
        assert self._writer is not None
        self._writer.write(data)
        reader = self._reader
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
        status = int(parts[1])
        length = -1
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if chunked:
            body = await _read_chunked(reader)
        elif length >= 0:
            body = await reader.readexactly(length)
        else:  # no length: the body runs to the end of the connection
            body = await reader.read()
            close = True
        if close:
            self.close()
        return status, body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def get(url: str, within_s: float = 2.0) -> tuple[int, bytes]:
    """One GET on a fresh connection (probes, ``/metrics``)."""
    host, port = split_url(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = Connection(host, port, within_s)
    try:
        return await connection.request("GET", path)
    finally:
        connection.close()
