"""The persister's settings (see the README's table)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from common.settings import Port, RetrySettings
from common.store.settings import StoreSettings

__all__ = ["PersisterSettings"]


class PersisterSettings(StoreSettings, RetrySettings):
    port: Port = 8003
    # Stream entries read (and written to the store) per batch: one transaction / bulk_write.
    batch_size: int = Field(2000, ge=1, le=10_000)
    # After a read that did not fill a batch, wait this long for more entries: fewer, larger
    # store transactions at moderate rates, for an ACK that reaches the store this much later.
    linger_ms: int = Field(20, ge=0, le=1000)
    # How long one XREADGROUP waits for new entries; also the longest a SIGTERM waits for it.
    block_ms: int = Field(1000, ge=1, le=30_000)
    # An entry delivered to a persister that has not acked it for this long is taken over
    # (XAUTOCLAIM): its persister is presumed dead.
    claim_idle_seconds: float = Field(30.0, gt=0, le=86400)
    # The expiry sweep: how often, and how many expired notifications per round at most.
    sweep_interval_seconds: float = Field(1.0, gt=0, le=3600)
    sweep_batch: int = Field(500, ge=1, le=10_000)
    # How often the stream is trimmed of entries every group has acked.
    trim_interval_seconds: float = Field(60.0, gt=0, le=86400)
    # How often the store drops what is past STORE_RETENTION_DAYS (SQLite; MongoDB's TTL
    # index needs no help).
    prune_interval_seconds: float = Field(3600.0, gt=0, le=7 * 86400)
    # retry_max_seconds (RetrySettings): backoff while Redis or the store do not answer;
    # shutdown_timeout_seconds: the base's.

    @model_validator(mode="after")
    def _claim_outlasts_a_batch(self) -> Self:
        if self.claim_idle_seconds * 1000 < self.block_ms:
            raise ValueError("CLAIM_IDLE_SECONDS must be at least BLOCK_MS")
        return self
