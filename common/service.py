"""Running a long-lived worker process: signals to an event, and a clean exit code."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import uvicorn
import uvloop

__all__ = ["EmbeddedServer", "run_service", "stop_on_signals"]


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the service owns SIGTERM, drains, and exits 0
    (stock uvicorn re-raises the signal after its shutdown, so the process dies of it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (a second signal is ignored; the drain has a
    timeout of its own)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def run_service(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main`` on uvloop; it returns after its drain, and the process exits 0."""
    uvloop.run(main())
