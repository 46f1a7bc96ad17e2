"""The consumer's settings (see the README's table)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from common.settings import Port, RetrySettings
from common.store.settings import StoreSettings

__all__ = ["ConsumerSettings"]


class ConsumerSettings(StoreSettings, RetrySettings):
    port: Port = 8002
    # herald_config_ttl_seconds (StoreSettings): tenants' types and templates and users'
    # preferences are read from the store (STORE_URL) through a cache this old at most.
    # Unacked messages RabbitMQ hands this process at once; also the largest batch.
    prefetch: int = Field(128, ge=1, le=10_000)
    # Per-actor sliding window: at most RATE_LIMIT_COUNT events per RATE_LIMIT_WINDOW_SECONDS.
    rate_limit_count: int = Field(100, ge=1, le=1_000_000)
    rate_limit_window_seconds: float = Field(60.0, gt=0, le=86400)
    # Semantic dedup: one LIKE/FOLLOW/MENTION/identical COMMENT per actor, target and
    # recipient within this window.
    semantic_window_seconds: float = Field(300.0, ge=0, le=7 * 86400)
    # How long the per-notification "already made" marker is kept: redeliveries and client
    # retries with the same eventId within it make nothing new.
    dedup_ttl_seconds: float = Field(7 * 86400.0, gt=0, le=365 * 86400)
    # The most pending notifications one user holds in Redis: past it their oldest goes to
    # the store as expired (why: capped), so one user who never connects cannot fill Redis.
    max_pending_per_user: int = Field(10_000, ge=1, le=10_000_000)
    # Settled deliveries are acked at most this long afterwards, many in one frame (0: each
    # batch at once). A delayed ack only ever means a redelivery, which makes nothing new.
    ack_delay_seconds: float = Field(0.005, ge=0, le=60)
    # A Redis pipeline (one batch's work) that has not answered within this long is a failed
    # attempt: the batch is retried, nothing is acked.
    redis_timeout_seconds: float = Field(5.0, gt=0, le=60)
    # Redis memory, as fractions of its maxmemory: at or over the high-water mark the consumer
    # stops taking events (they wait in RabbitMQ) until it is down to the low-water mark. The
    # room above the high mark is what ACK, expiry and erasure need to drain the buffer.
    herald_redis_high_water: float = Field(0.9, gt=0, le=1)
    herald_redis_low_water: float = Field(0.8, gt=0, lt=1)
    # Quiet hours (consumer/release.py): at most this many held notifications are released
    # per turn, one turn every HERALD_RELEASE_INTERVAL_SECONDS, so 10,000 users whose quiet
    # hours end at the same minute come out as a bounded burst. A releaser that took some
    # and has not made them within HERALD_RELEASE_CLAIM_SECONDS (it died) leaves them to be
    # taken again.
    herald_release_batch: int = Field(500, ge=1, le=100_000)
    herald_release_interval_seconds: float = Field(1.0, gt=0, le=60)
    herald_release_claim_seconds: float = Field(60.0, gt=0, le=3600)
    # Fan-out of a topic event (issue 20, consumer/fanout.py): subscribers per chunk (the
    # most user settings one store read answers), unacked chunks this process holds at once
    # (its second channel: one-recipient events never wait behind a fan-out), and how long a
    # chunk's publisher holds its claim before a redelivered chunk may publish it again.
    fanout_page_size: int = Field(500, ge=1, le=1000)
    fanout_prefetch: int = Field(2, ge=1, le=100)
    fanout_lease_seconds: float = Field(10.0, gt=0, le=600)
    # retry_max_seconds (RetrySettings): backoff while Redis or RabbitMQ do not answer;
    # shutdown_timeout_seconds: the base's.

    @model_validator(mode="after")
    def _low_below_high(self) -> Self:
        if self.herald_redis_low_water >= self.herald_redis_high_water:
            raise ValueError("HERALD_REDIS_LOW_WATER must be below HERALD_REDIS_HIGH_WATER")
        return self

    @model_validator(mode="after")
    def _claim_outlasts_a_turn(self) -> Self:
        if self.herald_release_claim_seconds < max(self.herald_release_interval_seconds,
                                                   self.redis_timeout_seconds) * 2:
            raise ValueError("HERALD_RELEASE_CLAIM_SECONDS must be at least twice "
                             "HERALD_RELEASE_INTERVAL_SECONDS and REDIS_TIMEOUT_SECONDS")
        return self

    @model_validator(mode="after")
    def _dedup_outlives_ttl(self) -> Self:
        if self.dedup_ttl_seconds < self.notification_ttl_seconds:
            raise ValueError("DEDUP_TTL_SECONDS must be at least NOTIFICATION_TTL_SECONDS")
        return self
