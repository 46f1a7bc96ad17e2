"""One fault run: a fresh stack, the ledger under load, the fault, the reconciliation."""

from __future__ import annotations

from pathlib import Path

from tests.faults.ledger import Ledger, Report
from tests.faults.scenarios import FAULTS, redis_fsync_of
from tests.faults.stack import Stack

__all__ = ["run_fault"]


async def run_fault(name: str, workdir: Path, events: int, rate: float) -> Report:
    stack = await Stack(workdir, redis_fsync=redis_fsync_of(name)).start()
    try:
        ledger = Ledger(stack, events=events, rate=rate)
        return await ledger.run(name, FAULTS[name] if name != "none" else None)
    finally:
        await stack.close()
