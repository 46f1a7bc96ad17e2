"""One fault run: a fresh stack (built as the fault's :class:`~tests.faults.scenarios.Setup`
says), the ledger under load, the fault, the reconciliation."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from tests.faults.ledger import Ledger, Report
from tests.faults.scenarios import FAULTS, setup_of
from tests.faults.stack import Stack
from tests.support.rabbitmq_node import rabbitmq_node

__all__ = ["run_fault"]


@asynccontextmanager
async def tmpfs(path: Path, size: str) -> AsyncIterator[Path]:
    """``path`` with a tmpfs of ``size`` mounted on it (root only), unmounted afterwards."""
    await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
    await _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        await _unmount(path)


async def _unmount(path: Path) -> None:
    """``umount``, retried while a process that just exited still holds the file system;
    detached (``umount -l``) if it stays busy, so a run never leaves a mount behind."""
    for _ in range(20):
        try:
            await _mount(str(path), command="umount")
            return
        except RuntimeError:
            await asyncio.sleep(0.25)
    await _mount("-l", str(path), command="umount")


async def _mount(*args: str, command: str = "mount") -> None:
    done = await asyncio.to_thread(subprocess.run, [command, *args], capture_output=True,
                                   timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command} {' '.join(args)}: {done.stderr.decode()[-500:]}")


async def run_fault(name: str, workdir: Path, events: int, rate: float) -> Report:
    setup = setup_of(name)
    if setup.most_events is not None:
        events = min(events, setup.most_events)
    if setup.most_rate is not None:
        rate = min(rate, setup.most_rate)
    async with AsyncExitStack() as scope:
        node = await scope.enter_async_context(rabbitmq_node()) if setup.own_rabbitmq else None
        store_dir = None
        if setup.store_tmpfs is not None:
            store_dir = await scope.enter_async_context(
                tmpfs(workdir / "store", setup.store_tmpfs))
        stack = Stack(workdir, redis_fsync=setup.redis_fsync, rabbitmq_node=node,
                      store_dir=store_dir, **setup.env)
        scope.push_async_callback(stack.close)
        await stack.start()
        ledger = Ledger(stack, events=events, rate=rate, workload=setup.workload)
        report = await ledger.run(name, FAULTS[name] if name != "none" else None)
        report.refused = ledger.refused
        return report
    raise AssertionError("unreachable")  # mypy: the exit stack may swallow exceptions
