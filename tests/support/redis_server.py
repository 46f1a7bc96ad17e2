"""A ``redis-server`` of the test's own on a free loopback port, with the settings a test
needs: ``maxmemory`` and ``maxmemory-policy`` for the states the shared Redis on 6379 must
never be put in (full, evicting), an append-only file for the fault suite's restarts."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.support.processes import free_port
from tests.support.timing import scaled

__all__ = ["PortTaken", "RedisServer", "redis_server"]


class PortTaken(RuntimeError):
    """The server exited at start: its free port was taken before it bound."""


class RedisServer:
    """``redis-server`` on its own port and directory, nothing saved by ``SAVE`` rules,
    started with ``settings`` (``"--maxmemory", "4mb"``, ``"--appendonly", "yes"``, …).
    ``start`` again after ``kill``/``stop`` restarts it on the same port and directory."""

    def __init__(self, workdir: Path, *settings: str) -> None:
        self.port = free_port()
        self.dir = workdir / f"redis-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Spawn it and wait (bounded) until it answers; :class:`PortTaken` if it exits."""
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log"),
             *self.settings],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = Redis.from_url(self.url)
        deadline = time.monotonic() + scaled(20)
        try:
            while True:
                try:
                    await client.ping()
                    return
                except (OSError, RedisError):
                    if proc.poll() is not None:
                        raise PortTaken(f"redis-server on {self.port} exited") from None
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@asynccontextmanager
async def redis_server(workdir: Path, *settings: str) -> AsyncIterator[int]:
    """The port of a ready server started with ``settings``, killed afterwards. Three tries,
    in case a free port was taken before the server bound it."""
    for _ in range(3):
        server = RedisServer(workdir, "--appendonly", "no", *settings)
        try:
            await server.start()
        except PortTaken:
            server.kill()
            continue
        try:
            yield server.port
        finally:
            server.kill()
        return
    raise RuntimeError("could not start a redis-server on a free port in three tries")
