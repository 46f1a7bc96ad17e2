"""Every service against a Redis of the test's own that would lose data or is filling up:

* an evicting ``maxmemory-policy`` is refused at start, by each of the four services, with a
  message naming the setting; ``HERALD_REDIS_ALLOW_EVICTION=true`` overrides it and
  ``/readyz`` then shows the policy;
* over its high-water mark the consumer stops taking events (the notify queue loses its
  consumer, the events wait there), ``/readyz`` says ``holding``, and below the low-water mark
  it takes them again and every one is buffered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.naming import Names
from tests.support.amqp import publish_raw
from tests.support.events import event_body
from tests.support.processes import Service
from tests.support.redis_server import redis_server
from tests.support.timing import eventually, scaled

pytestmark = pytest.mark.integration

MB = 1024 * 1024


@pytest.fixture
async def evicting(tmp_path: Path) -> AsyncIterator[str]:
    async with redis_server(tmp_path, "--maxmemory", "64mb",
                            "--maxmemory-policy", "allkeys-lru") as port:
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[int]:
    async with redis_server(tmp_path, "--maxmemory", "16mb",
                            "--maxmemory-policy", "noeviction") as port:
        yield port


async def exit_code(service: Service, timeout: float = 20.0) -> int:
    service.spawn()
    assert service.proc is not None

    async def code() -> int | None:
        return service.proc.poll() if service.proc is not None else None

    found = await eventually(code, lambda c: c is not None, timeout=timeout)
    assert found is not None
    return found


@pytest.mark.parametrize("module", ["producer", "consumer", "ws_gateway", "persister"])
async def test_an_evicting_redis_is_refused_at_start_naming_the_setting(
    services: Callable[..., Service], evicting: str, module: str,
) -> None:
    service = services(module, REDIS_URL=evicting)
    assert await exit_code(service) != 0
    logs = service.logs()
    assert "maxmemory-policy is allkeys-lru" in logs
    assert "maxmemory-policy noeviction" in logs
    assert "HERALD_REDIS_ALLOW_EVICTION=true" in logs


async def test_allowing_eviction_starts_and_readyz_shows_the_policy(
    services: Callable[..., Service], evicting: str,
) -> None:
    consumer = await services("consumer", REDIS_URL=evicting,
                              HERALD_REDIS_ALLOW_EVICTION="true").start()
    async with httpx.AsyncClient() as client:
        ready = (await client.get(consumer.url + "/readyz")).json()
    assert ready["checks"]["redis_memory"] == "ok"
    assert ready["redisMemory"]["policy"] == "allkeys-lru"
    assert ready["redisMemory"]["maxBytes"] == 64 * MB


async def readyz(service: Service) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        body: dict[str, Any] = (await client.get(service.url + "/readyz", timeout=5)).json()
    return body


async def test_over_the_high_water_mark_the_consumer_holds_events_in_rabbitmq(
    services: Callable[..., Service], small: int, channel: AbstractChannel, names: Names,
) -> None:
    consumer = await services("consumer", REDIS_URL=f"redis://127.0.0.1:{small}/0",
                              HERALD_REDIS_HIGH_WATER="0.5",
                              HERALD_REDIS_LOW_WATER="0.3").start()
    raw = Redis(host="127.0.0.1", port=small)
    try:
        for n in range(10):  # well over half of 16 MB, a megabyte at a time
            await raw.set(f"ballast-{n}", b"x" * MB)
        await eventually(lambda: readyz(consumer),
                         lambda r: r.get("redisMemory", {}).get("holding") is True)
        queue = await channel.declare_queue(names.notify_queue, passive=True)
        assert queue.declaration_result.consumer_count == 0  # it cancelled: events wait
        for n in range(5):
            await publish_raw(channel, names, event_body(f"held-{n}", postId=f"p{n}"),
                              message_id=f"held-{n}")

        async def depth() -> int:
            found = await channel.declare_queue(names.notify_queue, passive=True)
            return int(found.declaration_result.message_count or 0)

        assert await eventually(depth, lambda d: d == 5) == 5
        assert await raw.exists(names.keys.pending_hash("default", "bob")) == 0

        await raw.delete(*[f"ballast-{n}" for n in range(10)])
        await eventually(lambda: readyz(consumer),
                         lambda r: r.get("redisMemory", {}).get("holding") is False)
        await eventually(depth, lambda d: d == 0, timeout=scaled(1) * 15)
        await eventually(lambda: raw.hlen(names.keys.pending_hash("default", "bob")),
                         lambda count: count == 5)
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(consumer.url + "/metrics")).text
        assert "herald_consumer_holding 0.0" in metrics
    finally:
        await raw.aclose()
