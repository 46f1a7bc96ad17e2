"""The console's admin API against the four services as real processes: who may call it,
live figures from every replica, dead letters replayed and purged, a user's view, and an
event's trace across the stages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.build_info import build_info
from common.naming import Names
from tests.support.amqp import publish_raw, queue_depth
from tests.support.events import actor_window_over, buffered, event_body
from tests.support.processes import Service
from tests.support.stack import ADMIN_KEY, Stack, start_stack
from tests.support.timing import eventually
from tests.support.ws import Client

pytestmark = pytest.mark.integration

ADMIN_GETS = ["/v1/admin/stats", "/v1/admin/dead-letters", "/v1/admin/users/bob",
              "/v1/admin/events/ev-1/trace"]
ADMIN_POSTS = ["/v1/admin/dead-letters/replay", "/v1/admin/dead-letters/purge",
               "/v1/admin/users/bob/test-notification"]


@pytest.fixture
async def stack(services: Callable[..., Service], tmp_path: Path) -> Stack:
    return await start_stack(services, tmp_path, RATE_LIMIT_COUNT="1",
                             RATE_LIMIT_WINDOW_SECONDS="1")


async def test_no_key_is_401_a_wrong_key_403_and_the_shell_holds_no_data(stack: Stack) -> None:
    # A tenant's own key (every scope, admin too) is not the operator's: 403.
    for key, status in ((None, 401), ("not-the-admin-key-" + "x" * 30, 403), (stack.key, 403)):
        async with stack.admin(key) as client:
            for path in ADMIN_GETS:
                answer = await client.get(path)
                assert answer.status_code == status, (path, answer.text)
                assert answer.json()["error"] in {"unauthorized", "forbidden"}
            for path in ADMIN_POSTS:
                answer = await client.post(path, json={"ids": ["x"]})
                assert answer.status_code == status, (path, answer.text)
    async with stack.admin(None) as client:
        as_header = await client.get("/v1/admin/stats", headers={"X-API-Key": ADMIN_KEY})
        assert as_header.status_code == 200
        shell = await client.get("/console")
        assert shell.status_code == 200
        assert "text/html" in shell.headers["content-type"]
        assert "Sign in" in shell.text
        assert (await client.get("/console/console.js")).status_code == 200
        assert (await client.get("/console/nothing.js")).status_code == 404


async def test_stats_come_from_every_service_and_move_with_the_traffic(stack: Stack) -> None:
    bob, _ = await Client.authed(stack.gateway.url, "bob")
    async with stack.admin() as client:
        async def stats() -> dict[str, Any]:
            answer = await client.get("/v1/admin/stats")
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        await eventually(stats, lambda s: {r["service"] for r in s["replicas"]} == {
            "producer", "consumer", "ws_gateway", "persister"}
            and s["gateways"][0]["connections"] == 1)
        for n in range(5):
            await stack.post({"type": "LIKE", "actorId": f"fan{n}", "targetId": "bob",
                              "postId": f"p{n}"})
        notes = await bob.notifications(5)
        for note in notes:
            await bob.ack(note["id"])
        moved = await eventually(stats, lambda s: (s["flows"]["accepted"] or 0) > 0
                                 and (s["flows"]["delivered"] or 0) > 0
                                 and (s["flows"]["acked"] or 0) > 0
                                 and s["latency"]["p50"] is not None)
        assert moved["levels"]["notifyQueue"] is not None
        assert moved["levels"]["deadLetters"] is not None
        assert moved["latency"]["p99"] >= moved["latency"]["p50"] > 0
        assert moved["build"] == build_info().as_dict()  # the producer answering
        assert moved["flows"]["refused"] == 0  # no 503 for the broker
        assert moved["levels"]["consumerHolding"] == 0
        assert moved["redisMemory"]["policy"] == "noeviction"
        assert moved["redisMemory"]["usedBytes"] > 0
        await bob.close()
        await eventually(stats, lambda s: s["gateways"][0]["connections"] == 0)


async def test_dead_letters_are_listed_replayed_into_the_pipeline_and_purged(
    stack: Stack, channel: AbstractChannel, redis: Redis, names: Names,
) -> None:
    await publish_raw(channel, names, b"not json", message_id="broken-1")
    for n in range(2):  # the second is over the actor's limit of 1 per second
        await publish_raw(channel, names, event_body(f"rl-{n}", actorId="zed",
                                                     postId=f"p{n}"), message_id=f"rl-{n}")
    await eventually(lambda: queue_depth(channel, names.dead_letter_queue), lambda d: d == 2)
    async with stack.admin() as client:
        listed = (await client.get("/v1/admin/dead-letters")).json()["deadLetters"]
        by_id = {d["id"]: d for d in listed}
        assert set(by_id) == {"broken-1", "rl-1"}
        assert by_id["broken-1"]["reason"] == "invalid"
        assert by_id["broken-1"]["body"] == "not json"
        assert by_id["rl-1"]["reason"] == "rate_limited"
        assert "zed" in by_id["rl-1"]["detail"]
        only = (await client.get("/v1/admin/dead-letters",
                                 params={"reason": "rate_limited"})).json()["deadLetters"]
        assert [d["id"] for d in only] == ["rl-1"]
        assert await queue_depth(channel, names.dead_letter_queue) == 2  # browsing keeps them

        bodies: list[dict[str, object]] = [{}, {"ids": ["a"], "reason": "invalid"}, {"ids": []},
                                           {"reason": "Bad!"}, {"ids": ["a"], "extra": 1}]
        for bad in bodies:
            answer = await client.post("/v1/admin/dead-letters/replay", json=bad)
            assert answer.status_code == 422, (bad, answer.text)
        assert (await client.post("/v1/admin/dead-letters/replay",
                                  content=b"{")).status_code == 400
        assert (await client.get("/v1/admin/dead-letters",
                                 params={"limit": "0"})).status_code == 422

        # Once its window (1 s) has passed the actor is under its limit: the replay is
        # buffered.
        await actor_window_over(redis, names, "zed")
        replayed = await client.post("/v1/admin/dead-letters/replay",
                                     json={"ids": ["rl-1", "nope"]})
        assert replayed.status_code == 200, replayed.text
        assert [d["id"] for d in replayed.json()["replayed"]] == ["rl-1"]
        assert replayed.json()["notFound"] == ["nope"]
        await eventually(lambda: buffered(redis, names, "bob"),
                         lambda b: {n["eventId"] for n in b.values()} == {"rl-0", "rl-1"})
        async def stages() -> list[str]:
            trace = (await client.get("/v1/admin/events/rl-1/trace")).json()["stages"]
            return [m["stage"] for m in trace]

        assert await eventually(stages, lambda s: s[-1:] == ["buffered"]) == [
            "consumed", "rate_limited", "dead_lettered", "consumed", "buffered"]

        purged = await client.post("/v1/admin/dead-letters/purge", json={"reason": "invalid"})
        assert [d["id"] for d in purged.json()["purged"]] == ["broken-1"]
        assert await queue_depth(channel, names.dead_letter_queue) == 0


async def test_a_users_view_and_a_test_notification(stack: Stack) -> None:
    bob, _ = await Client.authed(stack.gateway.url, "bob")
    await stack.post({"type": "LIKE", "actorId": "alice", "targetId": "bob", "postId": "p1"})
    await bob.notifications(1)
    async with stack.admin() as client:
        async def view() -> dict[str, Any]:
            body: dict[str, Any] = (await client.get("/v1/admin/users/bob")).json()
            return body

        seen = await eventually(view, lambda v: v["connections"] and v["pending"] == 1)
        assert sum(c["connections"] for c in seen["connections"]) == 1
        assert [n["status"] for n in seen["notifications"]] == ["pending"]
        sent = await client.post("/v1/admin/users/bob/test-notification",
                                 json={"text": "hello from ops"})
        assert sent.status_code == 202, sent.text
        [note] = await bob.notifications(1)
        assert note["eventId"] == sent.json()["eventId"]
        assert note["type"] == "SYSTEM"
        assert "hello from ops" in note["message"]
        assert (await client.get("/v1/admin/users/b%20b")).status_code == 422
        assert (await client.get("/v1/admin/users/bob",
                                 params={"tenantId": "a/b"})).status_code == 422
        assert (await client.post("/v1/admin/users/bob/test-notification",
                                  json={"text": ""})).status_code == 422
    await bob.close()


async def test_an_events_trace_runs_from_accepted_to_persisted(stack: Stack) -> None:
    bob, _ = await Client.authed(stack.gateway.url, "bob")
    event_id = await stack.post({"type": "LIKE", "actorId": "alice", "targetId": "bob",
                                 "postId": "p1"})
    [note] = await bob.notifications(1)
    await bob.ack(note["id"])
    async with stack.admin() as client:
        async def stages() -> list[str]:
            answer = await client.get(f"/v1/admin/events/{event_id}/trace")
            if answer.status_code == 404:
                return []
            return [m["stage"] for m in answer.json()["stages"]]

        # Each process flushes its own marks on its own clock (every 0.2 s, later on a busy
        # machine): "persisted" can be read before the producer's "accepted" lands.
        want = ["accepted", "consumed", "buffered", "delivered", "acked", "persisted"]
        found = await eventually(stages, lambda s: set(want) <= set(s))
        assert found == want  # oldest first, nothing else
        answer = await client.get(f"/v1/admin/events/{event_id}/trace")
        delivered = next(m for m in answer.json()["stages"] if m["stage"] == "delivered")
        assert delivered["service"] == "ws_gateway"
        assert delivered["notificationId"] == note["id"]
        assert not any("bob" in str(m) for m in answer.json()["stages"])  # no user ids
        assert (await client.get("/v1/admin/events/no-such-event/trace")).status_code == 404
        bad = await client.get("/v1/admin/events/bad%20id/trace")
        assert bad.status_code == 422
        assert bad.json()["details"][0]["field"] == "eventId"
    await bob.close()


async def test_without_redis_the_figures_are_a_503_naming_it(
    services: Callable[..., Service],
) -> None:
    from tests.support.processes import free_port

    producer = await services("producer", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"
                              ).start(ready=False)
    async with httpx.AsyncClient(base_url=producer.url, timeout=30,
                                 headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        for path in ("/v1/admin/stats", "/v1/admin/events/ev-1/trace", "/v1/admin/users/bob"):
            answer = await client.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json()["details"][0]["dependency"] == "redis"
            assert "Retry-After" in answer.headers
