"""``open_store(url)``: the backend a ``STORE_URL`` names, opened and with its schema made.

``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (SQLAlchemy's convention:
what follows ``sqlite:///`` is the path), optionally ``?busy_timeout_ms=N`` (how long a write
waits for another process's lock before failing; default 5000). ``mongodb://`` and
``mongodb+srv://`` URLs go to pymongo as they are; the database is the URL's path, or
``herald``.

Opening does I/O (creates the SQLite file and its directory, or reaches MongoDB and makes its
indexes) and raises when it cannot: the persister keeps retrying with backoff while its
``/readyz`` says the store is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs

from common.store.base import Store
from common.store.mongo import MongoStore
from common.store.sqlite import SqliteStore

__all__ = ["StoreUrl", "open_store", "parse_store_url"]

DEFAULT_BUSY_TIMEOUT_MS = 5000


@dataclass(frozen=True, slots=True)
class StoreUrl:
    backend: Literal["sqlite", "mongodb"]
    target: str
    """The SQLite path, or the MongoDB URL unchanged."""
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS


def parse_store_url(url: str) -> StoreUrl:
    """Raises ``ValueError`` with a message fit for the one-line settings error."""
    if url.startswith(("mongodb://", "mongodb+srv://")):
        return StoreUrl("mongodb", url)
    if url.startswith("sqlite:///"):
        path, _, query = url.removeprefix("sqlite:///").partition("?")
        if not path:
            raise ValueError("sqlite:/// needs a path, e.g. sqlite:///./var/herald.db")
        busy = DEFAULT_BUSY_TIMEOUT_MS
        for name, values in parse_qs(query, keep_blank_values=True, strict_parsing=False).items():
            if name != "busy_timeout_ms":
                raise ValueError(f"unknown sqlite option {name!r} (known: busy_timeout_ms)")
            if not values[-1].isdigit() or not 0 <= int(values[-1]) <= 600_000:
                raise ValueError("busy_timeout_ms must be an integer from 0 to 600000")
            busy = int(values[-1])
        return StoreUrl("sqlite", path, busy)
    raise ValueError("must start with sqlite:///, mongodb:// or mongodb+srv://")


async def open_store(url: str, *, retention_days: float = 90.0) -> Store:
    """The backend ``url`` names, ready to use; raises if it cannot be reached or made."""
    parsed = parse_store_url(url)
    if parsed.backend == "mongodb":
        return await MongoStore.open(parsed.target, retention_days=retention_days)
    return await SqliteStore.open(
        parsed.target, retention_days=retention_days, busy_timeout_ms=parsed.busy_timeout_ms
    )
