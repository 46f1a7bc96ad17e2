"""A service's handle on the store, opened in the background (the producer's read API, the
gateway's inbox marks).

The store serves only part of such a service: if it cannot be opened (MongoDB away at start),
the rest works, :attr:`StoreHolder.store` raises what the service says (by default
:class:`StoreUnavailable`), and the holder keeps trying with backoff.
"""

from __future__ import annotations

import asyncio

from common.retry import Retrier
from common.store.base import Store
from common.store.factory import open_store

__all__ = ["StoreHolder", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """The store is not open (yet): the call that needs it cannot be made now."""


class StoreHolder:
    def __init__(self, url: str, retention_days: float) -> None:
        self._url = url
        self._retention_days = retention_days
        self._store: Store | None = None
        self._opener: asyncio.Task[None] | None = None

    async def start(self, wait_seconds: float = 5.0) -> None:
        """Start opening; wait at most ``wait_seconds`` for it (it goes on after)."""
        self._opener = asyncio.create_task(self._open_forever())
        await asyncio.wait({self._opener}, timeout=wait_seconds)

    async def _open_forever(self) -> None:
        self._store = await Retrier(maximum_delay=10.0, initial_delay=0.2).run(
            "open_store",
            lambda: open_store(self._url, retention_days=self._retention_days))

    def unavailable(self) -> Exception:
        """What :attr:`store` raises while the store is not open."""
        return StoreUnavailable("the store is not open yet")

    @property
    def store(self) -> Store:
        if self._store is None:
            raise self.unavailable()
        return self._store

    async def check(self) -> None:
        await self.store.ping()

    async def close(self) -> None:
        if self._opener is not None and not self._opener.done():
            self._opener.cancel()
            await asyncio.gather(self._opener, return_exceptions=True)
        if self._store is not None:
            await self._store.close()
