"""The faults, each injected once into a ledger run under steady load.

Each takes the stack and the ledger, breaks something, repairs it, and records how long the
pipeline took to deliver end to end again (``ledger.recover_seconds``)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from collections.abc import Callable, Coroutine
from typing import Any

from tests.faults.ledger import Ledger
from tests.faults.stack import SERVICES, Stack

__all__ = ["FAULTS", "redis_fsync_of"]

Fault = Callable[[Stack, Ledger], Coroutine[Any, Any, None]]


async def _recovered(ledger: Ledger, since: float) -> None:
    ledger.recover_seconds = await ledger.measure_recovery(since)


def sigkill(service: str) -> Fault:
    async def fault(stack: Stack, ledger: Ledger) -> None:
        since = time.monotonic()
        stack[service].kill()
        await asyncio.sleep(0.5)
        stack[service].spawn()
        await stack[service].wait_up(timeout=60)
        await _recovered(ledger, since)

    return fault


def sigterm(service: str) -> Fault:
    async def fault(stack: Stack, ledger: Ledger) -> None:
        since = time.monotonic()
        code = await stack[service].terminate()
        assert code == 0, f"{service} exited {code} on SIGTERM"
        stack[service].spawn()
        await stack[service].wait_up(timeout=60)
        await _recovered(ledger, since)

    return fault


async def _rabbitmqctl(*args: str) -> None:
    done = await asyncio.to_thread(subprocess.run, ["rabbitmqctl", *args], capture_output=True,
                                   timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-500:]


async def rabbitmq_restart(stack: Stack, ledger: Ledger) -> None:
    since = time.monotonic()
    await _rabbitmqctl("stop_app")
    await asyncio.sleep(2)
    await _rabbitmqctl("start_app")
    await _rabbitmqctl("await_startup")
    await _recovered(ledger, since)


def redis_restart(kill: bool) -> Fault:
    async def fault(stack: Stack, ledger: Ledger) -> None:
        since = time.monotonic()
        if kill:
            stack.redis.kill()
        else:
            stack.redis.stop()
        await asyncio.sleep(1)
        await stack.redis.start()
        await _recovered(ledger, since)

    return fault


async def store_outage(stack: Stack, ledger: Ledger) -> None:
    """The store refuses writes for 3 s: another connection holds an exclusive lock."""
    since = time.monotonic()

    def hold() -> None:
        db = sqlite3.connect(stack.store_path, timeout=10, isolation_level=None)
        try:
            db.execute("BEGIN EXCLUSIVE")
            time.sleep(3)
            db.execute("COMMIT")
        finally:
            db.close()

    await asyncio.to_thread(hold)
    await _recovered(ledger, since)


async def client_drops(stack: Stack, ledger: Ledger) -> None:
    since = time.monotonic()
    for client in list(ledger.clients.values())[::2]:
        await client.drop()
    await _recovered(ledger, since)


FAULTS: dict[str, Fault] = {
    **{f"sigkill-{s}": sigkill(s) for s in SERVICES},
    **{f"sigterm-{s}": sigterm(s) for s in SERVICES},
    "rabbitmq-stop-start-app": rabbitmq_restart,
    "redis-sigkill-aof-everysec": redis_restart(kill=True),
    "redis-sigkill-aof-always": redis_restart(kill=True),
    "redis-restart-aof-everysec": redis_restart(kill=False),
    "store-locked-3s": store_outage,
    "client-drops-and-reconnects": client_drops,
}


def redis_fsync_of(name: str) -> str:
    """The append-only fsync policy a fault's own redis-server runs with."""
    return "always" if name.endswith("-always") else "everysec"
