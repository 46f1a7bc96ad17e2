"""The settings of a service that opens the store (the persister; the producer's read API).

``STORE_URL`` is ``sqlite:///<path>`` or ``mongodb://...`` / ``mongodb+srv://...``;
``MONGO_URI`` is accepted in its place, as in the seed (``STORE_URL`` wins when both are set).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator

from common.settings import BaseServiceSettings
from common.store.factory import parse_store_url

__all__ = ["DEFAULT_STORE_URL", "StoreSettings"]

DEFAULT_STORE_URL = "sqlite:///./var/herald.db"
"""An embedded SQLite file under ``./var/``: one machine, no server to run."""


class StoreSettings(BaseServiceSettings):
    """:class:`BaseServiceSettings` plus where the store is and how long it keeps things."""

    store_url: str = Field(
        DEFAULT_STORE_URL, validation_alias=AliasChoices("store_url", "mongo_uri")
    )
    # Stored notifications are deleted this long after they became acked or expired:
    # MongoDB by a TTL index, SQLite by the persister's periodic prune.
    store_retention_days: float = Field(90.0, gt=0, le=36500)
    # How old a tenant's configuration and users' settings read through the cache may be
    # (common/config_cache.py): a change made elsewhere is seen within this long.
    herald_config_ttl_seconds: float = Field(2.0, ge=0, le=300)

    @field_validator("store_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        parse_store_url(value)  # raises ValueError naming what is wrong
        return value
