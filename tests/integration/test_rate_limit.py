"""The rate limit at the door against the real Redis and RabbitMQ: the Lua token bucket alone
(arithmetic, atomicity under concurrent callers, many clients as many replicas), then the
producer as a real process (429s for a flood from one caller, none for another, nothing
accepted lost, well-formed fields, and fail-open while Redis is away)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import httpx
import orjson
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.naming import Names
from common.redis_pool import open_redis
from producer.ingest.admission import IngestLimiter
from producer.ingest.rate_limit import TokenBuckets
from producer.metrics import RATE_LIMIT_ERRORS
from tests.conftest import REDIS_URL
from tests.support.amqp import queue_depth
from tests.support.keys import headers, make_key
from tests.support.processes import Service, free_port
from tests.support.proxy import TcpProxy
from tests.support.timing import eventually, scaled

pytestmark = pytest.mark.integration

LIKE = {"type": "LIKE", "actorId": "alice", "targetId": "bob", "postId": "p1"}
POLICY = re.compile(r'^"default";q=(\d+);w=([1-9]\d*)$')
LIMIT = re.compile(r'^"default";r=(\d+);t=(\d+)$')
SLOW = 0.001  # tokens per second: nothing refills within a test


async def test_a_new_bucket_is_full_and_a_refusal_takes_nothing(redis: Redis, names: Names
                                                                ) -> None:
    buckets = TokenBuckets(redis, names.keys, timeout_seconds=scaled(2))
    outcomes = [(await buckets.take("k1", SLOW, 5)).allowed for _ in range(6)]
    assert outcomes == [True] * 5 + [False]
    batch = await buckets.take("k2", SLOW, 5, cost=3)
    assert batch.allowed
    assert batch.remaining == 2
    too_many = await buckets.take("k2", SLOW, 5, cost=3)
    assert not too_many.allowed
    assert too_many.remaining == 2
    assert (await buckets.take("k2", SLOW, 5, cost=2)).allowed
    assert await redis.ttl(names.keys.ingest_bucket("k1")) > 0  # idle buckets expire


async def test_the_bucket_refills_at_the_rate(redis: Redis, names: Names) -> None:
    buckets = TokenBuckets(redis, names.keys, timeout_seconds=scaled(2))
    assert (await buckets.take("k", 20, 2, cost=2)).allowed
    refused = await buckets.take("k", 20, 2)
    assert not refused.allowed
    assert refused.retry_after == 1

    async def one() -> bool:
        return (await buckets.take("k", 20, 2)).allowed

    await eventually(one, bool, timeout=2)  # 50 ms per token


async def test_concurrent_callers_on_many_clients_never_overspend(names: Names) -> None:
    """200 calls at once through four clients (four producer replicas) on a bucket of 50:
    exactly 50 pass. A read-then-write outside one script would let more through."""
    clients = [open_redis(REDIS_URL, max_connections=50) for _ in range(4)]
    try:
        buckets = [TokenBuckets(c, names.keys, timeout_seconds=scaled(10)) for c in clients]
        calls = [buckets[i % 4].take("shared", SLOW, 50) for i in range(200)]
        decisions = await asyncio.gather(*calls)
    finally:
        for client in clients:
            await client.aclose(close_connection_pool=True)
    assert sum(d.allowed for d in decisions) == 50
    assert min(d.remaining for d in decisions) == 0


async def test_the_door_fails_open_when_redis_is_away(names: Names) -> None:
    closed = open_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        limiter = IngestLimiter(closed, names, rate=SLOW, burst=1, timeout_seconds=scaled(2))
        before = RATE_LIMIT_ERRORS._value.get()
        assert await limiter.admit("k", 1) == {}
        assert await limiter.admit("k", 1) == {}  # over the burst, but let through
        assert RATE_LIMIT_ERRORS._value.get() == before + 2
    finally:
        await closed.aclose(close_connection_pool=True)


# --- the producer as a process --------------------------------------------------------------

async def test_a_flood_from_one_caller_is_refused_another_is_not_and_nothing_is_lost(
    services: Callable[..., Service], channel: AbstractChannel, names: Names,
    base_env: dict[str, str],
) -> None:
    producer = await services("producer", RATE_LIMIT_PER_SECOND="1",
                              RATE_LIMIT_BURST="10").start()
    other_tenant = headers(await make_key(base_env["STORE_URL"], "other"))
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
        flood = await asyncio.gather(*(
            client.post("/v1/events", content=orjson.dumps(LIKE), headers=producer.headers)
            for _ in range(40)))
        other = [await client.post("/v1/events", content=orjson.dumps(LIKE),
                                   headers=other_tenant) for _ in range(5)]
        metrics = (await client.get("/metrics")).text

    statuses = [r.status_code for r in flood]
    accepted = statuses.count(202)
    assert set(statuses) == {202, 429}
    assert 10 <= accepted < 40  # the burst, plus whatever refilled at 1/s meanwhile
    assert [r.status_code for r in other] == [202] * 5
    for answer in flood + other:
        policy = POLICY.match(answer.headers["ratelimit-policy"])
        limit = LIMIT.match(answer.headers["ratelimit"])
        assert policy is not None
        assert policy.groups() == ("10", "10")
        assert limit is not None
        assert int(limit.group(1)) <= 10
        if answer.status_code == 429:
            body = answer.json()
            assert body["error"] == "rate_limited"
            assert body["message"]
            retry = answer.headers["retry-after"]
            assert retry.isdigit()
            assert int(retry) >= 1
            assert limit.groups() == ("0", retry)
        else:
            assert "retry-after" not in answer.headers
    refused = statuses.count(429)
    assert f'herald_ingest_rate_limited_total{{tenant="default"}} {refused}.0' in metrics

    expected = accepted + 5
    await eventually(lambda: queue_depth(channel, names.notify_queue),
                     lambda depth: depth >= expected, timeout=10)
    assert await queue_depth(channel, names.notify_queue) == expected


async def test_a_batch_costs_its_events(
    services: Callable[..., Service], channel: AbstractChannel, names: Names
) -> None:
    producer = await services("producer", RATE_LIMIT_PER_SECOND="0.01",
                              RATE_LIMIT_BURST="10").start()

    async def batch(size: int) -> httpx.Response:
        async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
            return await client.post("/v1/events/batch", headers=producer.headers,
                                     content=orjson.dumps({"events": [LIKE] * size}))

    first = await batch(6)
    assert first.status_code == 202
    assert first.headers["ratelimit"].startswith('"default";r=4;')
    second = await batch(6)
    assert second.status_code == 429
    assert second.json()["error"] == "rate_limited"
    assert int(second.headers["retry-after"]) >= 1
    whole = await batch(11)
    assert whole.status_code == 422
    assert whole.json()["error"] == "batch_too_large"
    assert (await batch(4)).status_code == 202  # the refusals took nothing
    assert await queue_depth(channel, names.notify_queue) == 10


async def test_ingest_goes_on_while_the_limiter_cannot_reach_redis(
    services: Callable[..., Service], channel: AbstractChannel, names: Names
) -> None:
    proxy = await TcpProxy("127.0.0.1", int(REDIS_URL.rsplit(":", 1)[1].split("/")[0])).start()
    try:
        producer = await services("producer", REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0",
                                  RATE_LIMIT_PER_SECOND="0.01", RATE_LIMIT_BURST="1").start()
        statuses: list[int] = []
        async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
            async def like() -> httpx.Response:
                answer = await client.post("/v1/events", content=orjson.dumps(LIKE),
                                           headers=producer.headers)
                statuses.append(answer.status_code)
                return answer

            assert (await like()).status_code == 202
            assert (await like()).status_code == 429
            await proxy.cut()
            away = [await like() for _ in range(3)]
            assert [a.status_code for a in away] == [202] * 3  # fail open
            assert "ratelimit" not in away[0].headers
            metrics = (await client.get("/metrics")).text
            # The first failed check, then two not even tried (within a second of it).
            assert "herald_ingest_rate_limit_errors_total 3.0" in metrics
            await proxy.restore()

            async def status() -> int:
                return (await like()).status_code

            # Limited again once Redis answers (after the second without checks).
            await eventually(status, lambda s: s == 429, timeout=10, interval=0.2)
        assert set(statuses) == {202, 429}
        await eventually(lambda: queue_depth(channel, names.notify_queue),
                         lambda depth: depth >= statuses.count(202), timeout=10)
        assert await queue_depth(channel, names.notify_queue) == statuses.count(202)
    finally:
        await proxy.close()
