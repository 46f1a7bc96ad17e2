"""The store: where a notification ends once it is acked or expired, and what the read API
reads (history, unread count, mark read).

One small interface (:class:`~common.store.base.Store`) and two backends chosen by
``STORE_URL``: SQLite, embedded, for one machine (the default), and MongoDB for everything
past one machine. :func:`~common.store.factory.open_store` picks one from the URL.
"""

from __future__ import annotations

from common.store.base import MAX_PAGE, InvalidCursor, Store
from common.store.factory import open_store, parse_store_url
from common.store.settings import DEFAULT_STORE_URL, StoreSettings

__all__ = [
    "DEFAULT_STORE_URL",
    "MAX_PAGE",
    "InvalidCursor",
    "Store",
    "StoreSettings",
    "open_store",
    "parse_store_url",
]
