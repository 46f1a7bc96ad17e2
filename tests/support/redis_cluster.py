"""A Redis Cluster of the test's own: three ``redis-server`` primaries on free loopback ports,
joined with ``redis-cli --cluster create``, nothing on disk; stopped and removed afterwards."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.support.timing import scaled

__all__ = ["redis_cluster"]

NODES = 3


@asynccontextmanager
async def redis_cluster(workdir: Path) -> AsyncIterator[list[int]]:
    """The ports of a ready three-primary cluster (every slot covered, state ``ok``). A free
    port taken by someone else before a node bound it (the node exits) makes a fresh try,
    three at most."""
    for attempt in range(3):
        procs: list[subprocess.Popen[bytes]] = []
        try:
            ports = await _start(workdir / f"try-{attempt}", procs)
        except _NodeExited:
            _stop(procs)
            continue
        except BaseException:
            _stop(procs)
            raise
        try:
            yield ports
        finally:
            _stop(procs)
        return
    raise RuntimeError("could not start a redis cluster on free ports in three tries")


class _NodeExited(Exception):
    pass


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_port() -> int:
    """A free port whose cluster-bus port (10,000 higher) is free too; Redis refuses a
    cluster port above 55535 for that reason (an ephemeral port often is)."""
    for _ in range(200):
        port = random.randrange(20_000, 55_000)
        if _bindable(port) and _bindable(port + 10_000):
            return port
    raise RuntimeError("no free port pair for a redis cluster node in 200 tries")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.kill()
    for proc in procs:
        proc.wait(10)


async def _start(workdir: Path, procs: list[subprocess.Popen[bytes]]) -> list[int]:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    ports = [_cluster_port() for _ in range(NODES)]
    for port in ports:
        node = workdir / f"node-{port}"
        node.mkdir(parents=True)
        procs.append(subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", str(node / "nodes.conf"), "--save", "",
             "--appendonly", "no", "--dir", str(node), "--logfile", str(node / "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for port, proc in zip(ports, procs, strict=True):
        await _until(port, proc, lambda info: True)
    created = await asyncio.to_thread(
        subprocess.run, [cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
                         "--cluster-yes"],
        capture_output=True, text=True, timeout=scaled(60), check=False)
    assert created.returncode == 0, created.stdout[-2000:] + created.stderr[-2000:]
    for port, proc in zip(ports, procs, strict=True):
        await _until(port, proc, lambda info: "cluster_state:ok" in info)
    return ports


async def _until(port: int, proc: subprocess.Popen[bytes],
                 ready: Callable[[str], bool]) -> None:
    """Wait (bounded) until the node answers and ``ready(CLUSTER INFO text)`` holds."""
    client = Redis(host="127.0.0.1", port=port, decode_responses=True)
    deadline = time.monotonic() + scaled(30)
    try:
        while True:
            try:
                info: Any = await client.execute_command(  # type: ignore[no-untyped-call]
                    "CLUSTER INFO")
                text = ("\n".join(f"{k}:{v}" for k, v in info.items())
                        if isinstance(info, dict) else str(info))
                if ready(text):
                    return
            except (OSError, RedisError):  # the node is still starting
                if proc.poll() is not None:  # it exited (its port taken meanwhile)
                    raise _NodeExited(str(port)) from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis cluster node {port} not ready")
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
