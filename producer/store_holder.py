"""The producer's handle on the store, opened in the background
(:class:`common.store.holder.StoreHolder`).

The store serves only the read API: if it cannot be opened (MongoDB away at start), ingest
still works, reads answer ``503 dependency_unavailable`` naming the store (so does ``/readyz``),
while the holder keeps trying with backoff.
"""

from __future__ import annotations

from common.store.holder import StoreHolder as _Holder
from producer.errors import dependency_unavailable

__all__ = ["StoreHolder"]


class StoreHolder(_Holder):
    def unavailable(self) -> Exception:
        return dependency_unavailable("store")
