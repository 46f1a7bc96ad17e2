"""The producer's handle on the store, opened in the background.

The store serves only the read API: if it cannot be opened (MongoDB away at start), ingest
still works, reads answer ``503 dependency_unavailable`` naming the store (so does ``/readyz``),
while the holder keeps trying with backoff.
"""

from __future__ import annotations

import asyncio

from common.logs import get_logger
from common.retry import Retrier
from common.store.base import Store
from common.store.factory import open_store
from producer.errors import dependency_unavailable

__all__ = ["StoreHolder"]

log = get_logger(__name__)


class StoreHolder:
    def __init__(self, url: str, retention_days: float) -> None:
        self._url = url
        self._retention_days = retention_days
        self._store: Store | None = None
        self._opener: asyncio.Task[None] | None = None

    async def start(self, wait_seconds: float = 5.0) -> None:
        self._opener = asyncio.create_task(self._open_forever())
        await asyncio.wait({self._opener}, timeout=wait_seconds)

    async def _open_forever(self) -> None:
        self._store = await Retrier(maximum_delay=10.0, initial_delay=0.2).run(
            "open_store",
            lambda: open_store(self._url, retention_days=self._retention_days))

    @property
    def store(self) -> Store:
        if self._store is None:
            raise dependency_unavailable("store")
        return self._store

    async def check(self) -> None:
        await self.store.ping()

    async def close(self) -> None:
        if self._opener is not None and not self._opener.done():
            self._opener.cancel()
        if self._store is not None:
            await self._store.close()
