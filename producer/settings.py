"""The producer's settings (see the README's table)."""

from __future__ import annotations

from pydantic import Field

from common.settings import BaseServiceSettings

__all__ = ["ProducerSettings"]


class ProducerSettings(BaseServiceSettings):
    port: int = Field(8000, ge=1, le=65535)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    max_batch_events: int = Field(500, ge=1, le=10_000)
    publish_timeout_seconds: float = Field(5.0, gt=0, le=120)
    retry_after_seconds: int = Field(2, ge=1, le=3600)
    shutdown_timeout_seconds: float = Field(20.0, gt=0, le=600)
