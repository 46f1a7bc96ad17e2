"""The gateway's settings (see the README's table)."""

from __future__ import annotations

from pydantic import Field

from common.auth import AuthSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(AuthSettings):
    port: int = Field(8001, ge=1, le=65535)
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

