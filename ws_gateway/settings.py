"""The gateway's settings (see the README's table)."""

from __future__ import annotations

from pydantic import Field

from common.auth import AuthSettings
from common.settings import Port, ShutdownSeconds
from common.store.settings import StoreSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(AuthSettings, StoreSettings):
    # STORE_URL (StoreSettings): the inbox marks (MARK / MARK_ALL frames) write the store; it
    # is opened in the background and delivery never waits for it.
    port: Port = 8001
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
    shutdown_timeout_seconds: ShutdownSeconds = 10.0  # shorter than the base's 20 s

    # --- what a connection may cost (ws_gateway/guard.py) -----------------------------------
    # Connections per process; one more is closed with 4029. 0 = no limit.
    max_connections: int = Field(10_000, ge=0, le=1_000_000)
    # Connections that have not authenticated yet; one more is closed with 4029. 0 = no limit.
    max_unauthenticated: int = Field(1_000, ge=0, le=1_000_000)
    # Connections from one client address (useless behind a proxy that hides it). 0 = off.
    max_connections_per_address: int = Field(0, ge=0, le=1_000_000)
    # The HTTP upgrade must be complete within this (slowloris).
    handshake_timeout_seconds: float = Field(10.0, gt=0, le=300)
    # Output waiting for a client; over it the gateway stops reading from that client.
    write_buffer_bytes: int = Field(65_536, ge=4096, le=16 * 1_048_576)
    # Output over WRITE_BUFFER_BYTES for this long aborts the connection.
    write_stall_seconds: float = Field(10.0, gt=0, le=600)
    # A close that has not completed in this long is aborted.
    close_timeout_seconds: float = Field(5.0, gt=0, le=120)

