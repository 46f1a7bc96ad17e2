"""The producer's settings (see the README's table)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from common.auth import AuthSettings
from common.store.settings import StoreSettings

__all__ = ["ProducerSettings"]

_ORIGIN = re.compile(r"^https?://[^/\s]+$")


class ProducerSettings(AuthSettings, StoreSettings):
    port: int = Field(8000, ge=1, le=65535)
    # Keys of trusted backends that may read any user's notifications (comma-separated).
    read_api_keys: Annotated[tuple[str, ...], NoDecode] = ()
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    max_batch_events: int = Field(500, ge=1, le=10_000)
    publish_timeout_seconds: float = Field(5.0, gt=0, le=120)
    retry_after_seconds: int = Field(2, ge=1, le=3600)
    shutdown_timeout_seconds: float = Field(20.0, gt=0, le=600)
    # Origins browser apps may call from (comma-separated, `*` for any); empty: no CORS.
    cors_allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("read_api_keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            keys = tuple(k.strip() for k in value.split(",") if k.strip())
            if any(len(k) < 16 for k in keys):
                raise ValueError("each key needs at least 16 characters")
            return keys
        return value

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        """``scheme://host[:port]`` each, as browsers send ``Origin`` (no path, no trailing
        slash, which would never match), or ``*``."""
        if isinstance(value, str):
            origins = tuple(o.strip() for o in value.split(",") if o.strip())
            bad = [o for o in origins if o != "*" and not _ORIGIN.match(o)]
            if bad:
                raise ValueError(f"not an origin (scheme://host[:port]): {bad[0]!r}")
            return origins
        return value
