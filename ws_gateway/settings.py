"""The gateway's settings (see the README's table)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from common.settings import BaseServiceSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(BaseServiceSettings):
    port: int = Field(8001, ge=1, le=65535)
    auth_mode: Literal["jwt", "trusted"] = "jwt"
    jwt_secret: str | None = Field(None, min_length=32)  # RFC 7518: >= the hash size
    jwt_public_key: str | None = None
    auth_timeout_seconds: float = Field(10.0, gt=0, le=300)
    # Largest frame a client may send; a larger one closes the connection with 1009.
    max_frame_bytes: int = Field(65_536, ge=256, le=16 * 1_048_576)
    # Live notifications waiting for a slow client. Past this the connection is closed with
    # 1013: the notifications stay pending in Redis and are replayed when it reconnects.
    send_queue_size: int = Field(1024, ge=8, le=1_000_000)
    # Bad frames (not JSON, unknown type, binary...) tolerated before closing with 1008.
    max_bad_frames: int = Field(10, ge=1, le=10_000)
    max_ack_ids: int = Field(500, ge=1, le=10_000)
    ping_interval_seconds: float = Field(20.0, gt=0, le=3600)
    ping_timeout_seconds: float = Field(20.0, gt=0, le=3600)
    shutdown_timeout_seconds: float = Field(10.0, gt=0, le=600)

    @model_validator(mode="after")
    def _jwt_needs_a_key(self) -> Self:
        if self.auth_mode == "jwt" and not (self.jwt_secret or self.jwt_public_key):
            raise ValueError("AUTH_MODE=jwt needs JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256)")
        return self
