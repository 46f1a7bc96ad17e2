"""``GET``/``DELETE /v1/fanouts/{eventId}`` (issue 20): a real producer and consumer, the real
RabbitMQ and Redis, subscribers in the services' SQLite store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel

from common.naming import Names
from common.store.sqlite import SqliteStore
from tests.support.amqp import publish_raw
from tests.support.events import buffered, event_body
from tests.support.keys import admin_headers, headers, make_key
from tests.support.processes import Service
from tests.support.timing import eventually

pytestmark = pytest.mark.integration

TOPIC = "followers:alice"


async def subscribe(store_url: str, count: int) -> list[str]:
    store = await SqliteStore.open(store_url.removeprefix("sqlite:///"))
    users = [f"u{n:05d}" for n in range(count)]
    try:
        await store.subscribe("default", TOPIC, users, datetime.now(UTC) - timedelta(seconds=1))
    finally:
        await store.close()
    return users


def topic_event(event_id: str) -> bytes:
    return event_body(event_id, type="SYSTEM", text="alice posted", postId=None,
                      recipients=[], topic=TOPIC)


async def test_progress_cancel_and_who_may_ask(
    services: Callable[..., Service], base_env: dict[str, str], channel: AbstractChannel,
    names: Names,
) -> None:
    await subscribe(base_env["STORE_URL"], 3000)
    producer = await services("producer").start()
    await services("consumer", FANOUT_PAGE_SIZE="10").start()
    reader = headers(await make_key(base_env["STORE_URL"], scopes=("notifications:read",)))
    writer = headers(await make_key(base_env["STORE_URL"], scopes=("events:write",)))
    other = headers(await make_key(base_env["STORE_URL"], tenant="other"))

    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers) as api:
        assert (await api.get("/v1/fanouts/nothing")).status_code == 404
        answer = await api.get("/v1/fanouts/bad%20id")
        assert answer.status_code == 422
        assert answer.json()["details"][0]["field"] == "eventId"

        await publish_raw(channel, names, topic_event("post-1"), "event.system", "post-1")

        async def progress() -> dict[str, Any]:
            answer = await api.get("/v1/fanouts/post-1")
            return answer.json() if answer.status_code == 200 else {"pages": 0}

        running = await eventually(progress, lambda p: p["pages"] >= 3, interval=0.01)
        assert running["state"] == "running"
        assert running["topic"] == TOPIC
        assert running["tenantId"] == "default"
        assert running["startedAt"].endswith("Z")

        assert (await api.get("/v1/fanouts/post-1", headers={"X-API-Key": ""})
                ).status_code == 401
        assert (await api.get("/v1/fanouts/post-1", headers=reader)).status_code == 403
        assert (await api.get("/v1/fanouts/post-1", headers=other)).status_code == 404
        assert (await api.get("/v1/fanouts/post-1", headers=writer)).status_code == 200
        # a tenant key naming its own tenant is fine, another tenant is 403
        assert (await api.get("/v1/fanouts/post-1", params={"tenantId": "default"},
                              headers=writer)).status_code == 200
        assert (await api.get("/v1/fanouts/post-1", params={"tenantId": "other"},
                              headers=writer)).status_code == 403

        # The operator key (the console's) names the tenant with ?tenantId=, as for topics.
        operator = admin_headers()
        seen = await api.get("/v1/fanouts/post-1", params={"tenantId": "default"},
                             headers=operator)
        assert seen.status_code == 200, seen.text
        assert (seen.json()["eventId"], seen.json()["tenantId"]) == ("post-1", "default")
        unnamed = await api.get("/v1/fanouts/post-1", headers=operator)
        assert unnamed.status_code == 422
        assert unnamed.json()["details"][0]["field"] == "tenantId"
        assert (await api.get("/v1/fanouts/post-1", params={"tenantId": "bad id"},
                              headers=operator)).status_code == 422
        assert (await api.get("/v1/fanouts/post-1", params={"tenantId": "nosuchtenant"},
                              headers=operator)).status_code == 404
        assert (await api.get("/v1/fanouts/post-1", params={"tenantId": "other"},
                              headers=operator)).status_code == 404  # other has no such one
        assert (await api.get("/v1/fanouts/post-1", params={"tenantId": "default"},
                              headers={"X-API-Key": "wrong-" + "k" * 40})).status_code == 401

        cancelled = await api.delete("/v1/fanouts/post-1", headers=writer)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["state"] == "cancelled"
        assert cancelled.json()["finishedAt"] is not None
        again = await api.delete("/v1/fanouts/post-1", params={"tenantId": "default"},
                                 headers=operator)
        assert again.status_code == 200
        assert again.json()["state"] == "cancelled"
        final = await api.get("/v1/fanouts/post-1")
        assert final.json()["recipients"] < 3000

        # A fan-out that ran to its end: its counts, and a cancel that comes too late.
        await publish_raw(channel, names, topic_event("post-2"), "event.system", "post-2")

        async def second() -> dict[str, Any]:
            answer = await api.get("/v1/fanouts/post-2")
            return answer.json() if answer.status_code == 200 else {"state": None}

        done = await eventually(second, lambda p: p["state"] == "done", timeout=60)
        assert (done["recipients"], done["made"], done["pages"]) == (3000, 3000, 301)
        late = await api.delete("/v1/fanouts/post-2")
        assert late.status_code == 409
        assert late.json()["error"] == "conflict"
        late = await api.delete("/v1/fanouts/post-2", params={"tenantId": "default"},
                                headers=operator)
        assert late.status_code == 409


async def test_through_the_api_subscribe_post_a_topic_event_and_follow_its_progress(
    services: Callable[..., Service], redis: Any, names: Names,
) -> None:
    producer = await services("producer").start()
    await services("consumer", FANOUT_PAGE_SIZE="2").start()
    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers) as api:
        bulk = await api.post(f"/v1/topics/{TOPIC}/subscribers",
                              json={"add": ["alice", "bob", "carol", "dave", "erin"]})
        assert bulk.status_code == 200, bulk.text
        sent = await api.post("/v1/events", json={"type": "SYSTEM", "actorId": "alice",
                                                  "topic": TOPIC, "text": "alice posted"})
        assert sent.status_code == 202, sent.text
        event_id = sent.json()["eventId"]

        async def progress() -> dict[str, Any]:
            return dict((await api.get(f"/v1/fanouts/{event_id}")).json())

        done = await eventually(progress, lambda p: p.get("state") == "done")
    assert (done["made"], done["topic"]) == (4, TOPIC)  # everyone but the actor
    for user in ("bob", "carol", "dave", "erin"):
        [note] = (await buffered(redis, names, user)).values()
        assert (note["eventId"], note["message"]) == (event_id, "alice posted")
    assert await buffered(redis, names, "alice") == {}
