"""The producer as a real process against the real RabbitMQ: every answer it can give."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import orjson
import pytest
from aio_pika.abc import AbstractChannel

from common.build_info import build_info
from common.models import Event
from common.naming import Names
from tests.support.amqp import queue_depth, read_queue
from tests.support.processes import Service
from tests.support.proxy import TcpProxy
from tests.support.timing import eventually

pytestmark = pytest.mark.integration

LIKE = {"type": "LIKE", "actorId": "alice", "targetId": "bob", "postId": "p1"}


@pytest.fixture
async def producer(services: Callable[..., Service]) -> Service:
    return await services("producer", MAX_BODY_BYTES="4096", MAX_BATCH_EVENTS="5").start()


async def post(service: Service, path: str, body: object | bytes) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    async with httpx.AsyncClient(base_url=service.url, headers=service.headers) as client:
        return await client.post(path, content=content)


async def test_accepted_event_is_confirmed_in_the_queue(
    producer: Service, channel: AbstractChannel, names: Names
) -> None:
    answer = await post(producer, "/v1/events", {**LIKE, "eventId": "ev-1"})
    assert answer.status_code == 202
    assert answer.json() == {"eventId": "ev-1"}
    [message] = await read_queue(channel, names.notify_queue, 1)
    event = Event.model_validate_json(message.body)
    assert (event.eventId, event.actorId, event.recipients) == ("ev-1", "alice", ["bob"])
    assert message.delivery_mode == 2
    assert message.message_id == "ev-1"
    assert message.routing_key == "event.like"


async def test_batch_answers_per_item_in_order(
    producer: Service, channel: AbstractChannel, names: Names
) -> None:
    good = await post(producer, "/v1/events/batch", {"events": [LIKE, {**LIKE, "postId": "p2"}]})
    assert good.status_code == 202
    assert [r["status"] for r in good.json()["results"]] == [202, 202]

    mixed = await post(producer, "/v1/events/batch",
                       {"events": [LIKE, {**LIKE, "actorId": 7}, "nonsense"]})
    assert mixed.status_code == 207
    body = mixed.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert [r["status"] for r in body["results"]] == [202, 422, 422]
    assert body["results"][1]["details"][0]["field"] == "actorId"
    assert body["results"][2]["details"][0]["field"] == "body"
    await read_queue(channel, names.notify_queue, 3)


@pytest.mark.parametrize(
    ("path", "body", "status", "error", "field"),
    [
        ("/v1/events", b"{not json", 400, "invalid_json", None),
        ("/v1/events", b"", 400, "invalid_json", None),
        ("/v1/events", [LIKE], 422, "invalid_event", "body"),
        ("/v1/events", {**LIKE, "actorId": 42}, 422, "invalid_event", "actorId"),
        ("/v1/events", {**LIKE, "postId": None}, 422, "invalid_event", "body"),
        ("/v1/events", {**LIKE, "type": "POKE"}, 422, "unknown_type", "type"),
        ("/v1/events", {**LIKE, "type": "PO KE"}, 422, "invalid_event", "type"),
        ("/v1/events", {**LIKE, "data": [1]}, 422, "invalid_event", "data"),
        ("/v1/events", {**LIKE, "colour": "red"}, 422, "invalid_event", "colour"),
        ("/v1/events", {**LIKE, "targetId": "alice"}, 422, "invalid_event", "body"),
        ("/v1/events", {**LIKE, "text": "x" * 5000}, 413, "body_too_large", None),
        ("/v1/events/batch", {"events": [LIKE] * 6}, 422, "batch_too_large", "events"),
        ("/v1/events/batch", {"items": [LIKE]}, 422, "invalid_batch", "events"),
        ("/like", {"actorId": "a", "targetId": "b"}, 422, "invalid_event", "postId"),
        ("/comment", {"actorId": "a", "targetId": "b", "postId": "p1"}, 422, "invalid_event",
         "text"),
        ("/follow", {"actorId": "a", "targetId": 3}, 422, "invalid_event", "targetId"),
    ],
)
async def test_bad_input_gets_a_clear_error_and_publishes_nothing(
    producer: Service, channel: AbstractChannel, names: Names,
    path: str, body: object, status: int, error: str, field: str | None,
) -> None:
    answer = await post(producer, path, body)
    assert answer.status_code == status, answer.text
    payload = answer.json()
    assert payload["error"] == error
    assert payload["message"]
    if field is not None:
        assert field in [d["field"] for d in payload["details"]]
    assert await queue_depth(channel, names.notify_queue) == 0


async def test_streamed_body_over_the_limit_is_413(producer: Service) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers) as client:
        answer = await client.post("/v1/events", content=chunks())
    assert answer.status_code == 413


async def test_seed_routes_keep_working(
    producer: Service, channel: AbstractChannel, names: Names
) -> None:
    bodies = {
        "/like": {"actorId": "a", "targetId": "b", "postId": "p1", "type": "LIKE"},
        "/comment": {"actorId": "a", "targetId": "b", "postId": "p1", "text": "nice"},
        "/follow": {"actorId": "a", "targetId": "b"},
    }
    for path, body in bodies.items():
        answer = await post(producer, path, body)
        assert answer.status_code == 202
        assert answer.json()["eventId"]
    types = sorted(Event.model_validate_json(m.body).type
                   for m in await read_queue(channel, names.notify_queue, 3))
    assert types == ["COMMENT", "FOLLOW", "LIKE"]
    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers) as client:
        posts = (await client.get("/posts")).json()["posts"]
        assert posts
        assert {"postId", "authorId"} <= posts[0].keys()
        assert (await client.get("/nowhere")).json()["error"] == "not_found"


async def test_probes(producer: Service) -> None:
    build = build_info().as_dict()  # the same environment and checkout as the process's
    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", **build}
        ready = (await client.get("/readyz")).json()
        assert ready.pop("redisMemory")["policy"] == "noeviction"  # read once it started
        assert ready == {"status": "ready",
                         "checks": {"rabbitmq": "ok", "redis": "ok", "store": "ok",
                                    "redis_memory": "ok"}}
        await client.post("/v1/events", content=orjson.dumps(LIKE))
        metrics = (await client.get("/metrics")).text
    assert 'herald_events_published_total{type="LIKE"} 1.0' in metrics
    first = orjson.loads(producer.logs().splitlines()[0])
    assert (first["msg"], first["service"]) == ("starting", "producer")
    assert {k: first[k] for k in build} == build


async def test_503_while_the_broker_is_away_then_reconnects(
    services: Callable[..., Service], channel: AbstractChannel, names: Names
) -> None:
    proxy = await TcpProxy("127.0.0.1", 5672).start()
    try:
        producer = await services(
            "producer", RABBITMQ_URL=f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
            PUBLISH_TIMEOUT_SECONDS="1",
        ).start()
        assert (await post(producer, "/v1/events", LIKE)).status_code == 202

        await proxy.cut()
        down = await post(producer, "/v1/events", {**LIKE, "eventId": "during-outage"})
        assert down.status_code == 503
        assert down.headers["retry-after"].isdigit()
        assert down.json()["error"] == "broker_unavailable"
        assert down.json()["details"][0]["value"] == "during-outage"
        async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers) as client:
            assert (await client.get("/readyz")).status_code == 503

        await proxy.restore()

        async def retry() -> int:
            return (await post(producer, "/v1/events", {**LIKE, "eventId": "after"})).status_code

        await eventually(retry, lambda status: status == 202, timeout=20, interval=0.25)
        received = await read_queue(channel, names.notify_queue, 2)
        ids = [m.message_id for m in received]
        assert "during-outage" not in ids
        assert "after" in ids
    finally:
        await proxy.close()


async def test_starts_without_the_broker_and_connects_when_it_comes(
    services: Callable[..., Service],
) -> None:
    proxy = await TcpProxy("127.0.0.1", 5672).start()
    await proxy.cut()
    try:
        producer = services("producer",
                            RABBITMQ_URL=f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
                            PUBLISH_TIMEOUT_SECONDS="1")
        await producer.start(ready=False)
        assert (await post(producer, "/v1/events", LIKE)).status_code == 503
        await proxy.restore()
        await producer.wait_up(timeout=20, ready=True)
        assert (await post(producer, "/v1/events", LIKE)).status_code == 202
    finally:
        await proxy.close()


async def test_sigterm_drains_and_exits_0(producer: Service) -> None:
    assert (await post(producer, "/v1/events", LIKE)).status_code == 202
    assert await producer.terminate() == 0
