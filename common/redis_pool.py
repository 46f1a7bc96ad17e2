"""One way every service opens Redis: a bounded pool that *waits* for a free connection.

redis-py's default pool refuses outright (``MaxConnectionsError``) once 100 connections are
in use, which under a burst of WebSocket ACKs closed sessions with 1011. A blocking pool of a
set size queues the caller instead (up to ``wait_seconds``, then a ``ConnectionError``, which
every caller treats as "Redis is away": retry with backoff).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from common.redis_packing import HiredisPackedConnection

__all__ = ["as_text", "open_redis"]


def open_redis(
    url: str, *, max_connections: int = 64, socket_timeout: float | None = 5.0,
    wait_seconds: float = 5.0,
) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait_seconds,
        socket_timeout=socket_timeout, socket_connect_timeout=5,
        connection_class=HiredisPackedConnection,  # rediss:// and unix:// keep their own
    )
    return Redis(connection_pool=pool)


def as_text(value: Any) -> str:
    """A Redis reply (bytes, as the services' clients return them) as ``str``."""
    return value.decode() if isinstance(value, bytes) else str(value)
