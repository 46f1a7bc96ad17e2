"""A WebSocket client that decides when it reads its socket: it can stop reading altogether,
send frames no library would (pings as fast as it can, fragments that never end), or never
finish its handshake. The frames themselves come from websockets' Sans-I/O protocol."""

from __future__ import annotations

import asyncio
import socket
import time

from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from tests.support.timing import scaled

__all__ = ["RawClient", "open_tcp"]


async def open_tcp(port: int, rcvbuf: int = 4096) -> tuple[asyncio.StreamReader,
                                                              asyncio.StreamWriter]:
    """A loopback TCP connection with a small receive buffer, so that a client that does not
    read pushes back on the server after a few KiB."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock)


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 protocol: ClientProtocol) -> None:
        self.reader, self.writer, self.protocol = reader, writer, protocol

    @classmethod
    async def open(cls, port: int, rcvbuf: int = 4096) -> RawClient:
        """Connect and complete the opening handshake (reading only its answer)."""
        reader, writer = await open_tcp(port, rcvbuf)
        protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ws"), max_size=None)
        protocol.send_request(protocol.connect())
        client = cls(reader, writer, protocol)
        client._flush()
        async with asyncio.timeout(scaled(10)):
            while not any(isinstance(e, Response) for e in client.protocol.events_received()):
                data = await reader.read(4096)
                if not data:
                    raise ConnectionError("closed during the handshake")
                protocol.receive_data(data)
        return client

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self._flush()

    def raw(self, opcode: Opcode, payload: bytes, fin: bool = True) -> bytes:
        """The bytes of one masked client frame (for writing many at once)."""
        return Frame(opcode, payload, fin).serialize(mask=True)

    async def flood(self, frame: bytes, seconds: float, max_frames: int) -> tuple[int, bool]:
        """Write ``frame`` again and again for at most ``seconds`` and ``max_frames``, never
        reading. Returns (frames written, whether the server cut the connection)."""
        written = 0
        deadline = time.monotonic() + seconds
        chunk = frame * 256
        while written < max_frames and time.monotonic() < deadline:
            try:
                self.writer.write(chunk)
                written += 256
                async with asyncio.timeout(0.2):
                    await self.writer.drain()
            except TimeoutError:
                continue  # the server stopped reading: go on pushing until the deadline
            except (ConnectionError, OSError):
                return written, True
        return written, self.writer.transport.is_closing() or self.reader.at_eof()

    async def cut_within(self, seconds: float) -> bool:
        """Whether the server ends the TCP connection within ``seconds`` (read until EOF or
        reset, discarding what comes)."""
        try:
            async with asyncio.timeout(seconds):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except (ConnectionError, OSError):
            return True
        return True

    async def close_code(self, seconds: float) -> int | None:
        """Read until the server's close frame; its code (None on EOF or reset without one)."""
        try:
            async with asyncio.timeout(seconds):
                while True:
                    data = await self.reader.read(65536)
                    if not data:
                        return None
                    self.protocol.receive_data(data)
                    for event in self.protocol.events_received():
                        if isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                            return Close.parse(event.data).code
        except (ConnectionError, OSError):
            return None

    def abort(self) -> None:
        self.writer.transport.abort()
