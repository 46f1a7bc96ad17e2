"""A ``redis-server`` of the test's own on a free loopback port, nothing on disk, with the
settings a test needs (``maxmemory``, ``maxmemory-policy``); killed afterwards. For the
states the shared Redis on 6379 must never be put in (full, evicting)."""

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

__all__ = ["redis_server"]


@asynccontextmanager
async def redis_server(workdir: Path, *settings: str) -> AsyncIterator[int]:
    """The port of a ready ``redis-server`` started with ``settings`` (``"--maxmemory",
    "4mb"``, …). Three tries, in case the free port was taken before it bound."""
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    for _ in range(3):
        port = free_port()
        node = workdir / f"redis-{port}"
        node.mkdir(parents=True)
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(node), "--logfile", str(node / "log"),
             *settings],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if await _answers(port, proc):
                yield port
                return
        finally:
            proc.kill()
            proc.wait(10)
    raise RuntimeError("could not start a redis-server on a free port in three tries")


async def _answers(port: int, proc: subprocess.Popen[bytes]) -> bool:
    client = Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + scaled(20)
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                if await client.ping():
                    return True
            except (OSError, RedisError):
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"redis-server on {port} did not answer in {scaled(20)} s")
    finally:
        await client.aclose()
