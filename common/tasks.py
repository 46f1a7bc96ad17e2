"""One background loop with a last turn on stop: the lifecycle the telemetry reporter and the
tracer both had, written once.

:class:`Periodic` runs ``turn`` every ``interval`` seconds in a task of its own;
:meth:`Periodic.stop` cancels that task, waits for it, then runs ``final`` once (a last flush,
or the removal of what the loop kept alive). Failure behaviour, on purpose:

* a turn that raises is logged at debug level with ``failure`` as the message and the loop goes
  on at the next interval: a background figure or flush must never take the service down, and
  the next turn is the retry (nothing is queued);
* ``final`` is best effort: it runs at most ``final_timeout`` seconds and whatever it raises is
  swallowed, since it runs while the process is shutting down and nobody could act on it;
* ``final`` runs only when the loop was started: nothing was kept alive otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from common.logs import get_logger

__all__ = ["Periodic"]

log = get_logger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, turn: Callable[[], Awaitable[object]], *,
                 final: Callable[[], Awaitable[object]] | None = None,
                 final_timeout: float | None = None, wait_first: bool = False,
                 failure: str = "background turn failed") -> None:
        """``wait_first``: the first turn comes after one interval, not at once."""
        self.name = name
        self._interval = interval
        self._turn = turn
        self._final = final
        self._final_timeout = final_timeout
        self._wait_first = wait_first
        self._failure = failure
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        """Start the loop (within the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the loop, wait for it, then run ``final`` once (best effort)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self._final is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._final_timeout):
                    await self._final()

    async def _run(self) -> None:
        if self._wait_first:
            await asyncio.sleep(self._interval)
        while True:
            try:
                await self._turn()
            except Exception as exc:  # the next turn tries again
                log.debug(self._failure, error=repr(exc)[:200])
            await asyncio.sleep(self._interval)
