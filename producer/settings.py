"""The producer's settings (see the README's table)."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from common.auth import AuthSettings
from common.buffer.erasure import DEFAULT_TOMBSTONE_SECONDS
from common.settings import Port
from common.store.settings import StoreSettings
from producer.schemas import DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_SKEW_SECONDS, OccurredWindow

__all__ = ["ProducerSettings"]

_ORIGIN = re.compile(r"^https?://[^/\s]+$")


class ProducerSettings(AuthSettings, StoreSettings):
    port: Port = 8000
    # Keys of trusted backends that may read any user's notifications (comma-separated).
    read_api_keys: Annotated[tuple[str, ...], NoDecode] = ()
    # The bootstrap admin key of the admin API (/v1/admin/, every tenant); unset: only stored
    # keys with the scope `admin` (their own tenant). At least 32 characters.
    admin_api_key: str | None = Field(None, min_length=32, max_length=512)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    max_batch_events: int = Field(500, ge=1, le=10_000)
    publish_timeout_seconds: float = Field(5.0, gt=0, le=120)
    retry_after_seconds: int = Field(2, ge=1, le=3600)
    # Token bucket per caller at the door (producer/ingest/admission.py): events per second and the
    # most at once. 0 and 0: off. A batch costs its number of events.
    rate_limit_per_second: float = Field(0.0, ge=0, le=1_000_000)
    rate_limit_burst: int = Field(0, ge=0, le=10_000_000)
    # Where GET /sdk/herald.js and /sdk/herald-inbox.js are read from; empty: clients/js.
    sdk_dir: str = ""
    # Origins browser apps may call from (comma-separated, `*` for any); empty: no CORS.
    cors_allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # How far from now an event's occurredAt may be (older, or further ahead: 422).
    occurred_at_max_age_seconds: float = Field(DEFAULT_MAX_AGE_SECONDS, gt=0,
                                               le=100 * 366 * 86400)
    occurred_at_max_skew_seconds: float = Field(DEFAULT_MAX_SKEW_SECONDS, ge=0,
                                                le=7 * 86400)
    # How long an erased user's tombstone keeps old events from notifying them again
    # (common.buffer.erasure): longer than DEDUP_TTL_SECONDS and than an event may wait in RabbitMQ.
    erasure_tombstone_seconds: float = Field(float(DEFAULT_TOMBSTONE_SECONDS), ge=3600,
                                             le=10 * 365 * 86400)

    @property
    def occurred_window(self) -> OccurredWindow:
        return OccurredWindow(self.occurred_at_max_age_seconds,
                              self.occurred_at_max_skew_seconds)

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

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.rate_limit_per_second > 0) != (self.rate_limit_burst > 0):
            raise ValueError("set RATE_LIMIT_PER_SECOND and RATE_LIMIT_BURST both above 0 "
                             "(on) or both to 0 (off)")
        return self
