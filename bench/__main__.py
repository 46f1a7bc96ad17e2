"""Herald's load tool. Scenarios: ingest (single events, closed loop), batch (the batch
endpoint), consumer / persister (drain a pre-filled backlog), e2e (open-loop rate at
WebSocket clients that ACK), idle (gateway RSS per idle connection), fanout (gateway
frames/s), publish (the producer's publish path without HTTP: the ceiling of ingest), trace
(the console's trace marks' cost per event), capacity (Redis and store bytes per
notification), templates (the consumer's making step, templates against fixed formatting),
release (the burst when many users' quiet hours end at once), all (the whole table of
bench/RESULTS.md)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson

from bench.runner import apply_smoke, parser, raise_fd_limit, run_one
from bench.suite import run_all

__all__ = ["main"]

T = TypeVar("T")


async def _cancel_on_sigterm(work: Awaitable[T]) -> T:
    """SIGTERM (a CI timeout, kill) unwinds like Ctrl-C: the run is cancelled, so the
    services are stopped and the run's queues and keys deleted on the way out."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await work


def main(argv: list[str] | None = None) -> int:
    opts = parser().parse_args(argv)
    if opts.smoke:
        apply_smoke(opts)
    raise_fd_limit()
    try:
        import uvloop
        runner: Callable[..., Any] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        runner = asyncio.run
    try:
        if opts.scenario == "all":
            return int(runner(_cancel_on_sigterm(run_all(opts))))
        result = runner(_cancel_on_sigterm(run_one(opts.scenario, opts)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: services stopped, the run's queues and keys deleted",
              file=sys.stderr)
        return 130
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
