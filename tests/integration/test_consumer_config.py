"""The consumer with what product teams configure (issue 19), as a real process fed through
the real RabbitMQ, with its store (SQLite) written directly and Redis checked: tenants' types
and templates, preferences, quiet hours and digests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import orjson
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.buffer.held import HeldBuffer
from common.catalog import TypeDef
from common.models import notification_id
from common.naming import Names
from common.preferences import QuietHours
from common.store import Store, open_store
from common.topology import REASON_HEADER
from tests.support.amqp import publish_raw, queue_depth, read_queue
from tests.support.events import buffered, event_body
from tests.support.metrics import metric
from tests.support.processes import Service
from tests.support.timing import eventually, scaled

pytestmark = pytest.mark.integration

TASK = TypeDef("task.assigned", "transactional")
DETECT_HEADER = "x-herald-detail"


@pytest.fixture
async def config_store(base_env: dict[str, str]) -> AsyncIterator[Store]:
    opened = await open_store(base_env["STORE_URL"])
    yield opened
    await opened.close()


@pytest.fixture
def consumer(services: Callable[..., Service]) -> Callable[..., Service]:
    def make(**env: str) -> Service:
        return services("consumer", NOTIFICATION_TTL_SECONDS="600",
                        HERALD_CONFIG_TTL_SECONDS="0", HERALD_RELEASE_INTERVAL_SECONDS="0.2",
                        **env)

    return make


async def wait_for(redis: Redis, names: Names, user: str, count: int
                   ) -> dict[str, dict[str, Any]]:
    async def probe() -> dict[str, dict[str, Any]]:
        return await buffered(redis, names, user)

    return await eventually(probe, lambda found: len(found) >= count)


async def handled(service: Service, count: int) -> None:
    await eventually(lambda: metric(service, "herald_consumer_events_total"),
                     lambda n: n >= count)


async def test_a_tenants_type_renders_its_template_for_the_recipients_locale(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    config_store: Store,
) -> None:
    now = datetime.now(UTC)
    await config_store.put_type("default", TASK)
    await config_store.put_template("default", TASK.name, "en", "{{ actorId }} assigned you "
                             "{{ data.title }}", now)
    await config_store.put_template("default", TASK.name, "de", "{{ actorId }} hat dir "
                             "{{ data.title }} zugewiesen", now)
    await config_store.put_profile("default", "carol", "de-AT", "Europe/Vienna", now)
    await consumer().start()
    await publish_raw(channel, names, event_body(
        "t1", type=TASK.name, postId=None, recipients=["bob", "carol"],
        data={"title": "<b>Ship it</b>"}))
    [bob] = (await wait_for(redis, names, "bob", 1)).values()
    [carol] = (await wait_for(redis, names, "carol", 1)).values()
    assert bob["message"] == "alice assigned you <b>Ship it</b>"  # text, never escaped here
    assert carol["message"] == "alice hat dir <b>Ship it</b> zugewiesen"
    assert bob["type"] == "task.assigned"
    assert bob["priority"] == "transactional"


async def test_unknown_types_and_failing_templates_are_dead_lettered_and_the_rest_goes_on(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    config_store: Store,
) -> None:
    await config_store.put_type("default", TASK)
    await config_store.put_template("default", TASK.name, "en", "{{ data.task.title }}",
                             datetime.now(UTC))
    service = await consumer().start()
    await publish_raw(channel, names, event_body("unknown", type="poke", postId=None))
    await publish_raw(channel, names, event_body("fails", type=TASK.name, postId=None,
                                                 data={"other": 1}))
    await publish_raw(channel, names, event_body("works", type=TASK.name, postId=None,
                                                 actorId="zed",
                                                 data={"task": {"title": "Ship"}}))
    dead = {orjson.loads(m.body)["eventId"]: m
            for m in await read_queue(channel, names.dead_letter_queue, 2)}
    assert dead["unknown"].headers[REASON_HEADER] == "unknown_type"
    assert dead["fails"].headers[REASON_HEADER] == "template_failed"
    detail = str(dead["fails"].headers[DETECT_HEADER])
    assert "task.assigned template (en, version 1)" in detail
    assert "task" in detail
    [note] = (await wait_for(redis, names, "bob", 1)).values()
    assert note["message"] == "Ship"
    await handled(service, 3)


async def test_preferences_stop_a_type_but_never_a_transactional_one(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    config_store: Store,
) -> None:
    now = datetime.now(UTC)
    await config_store.put_preferences("default", "bob", {"COMMENT": False, "SYSTEM": False}, None,
                                now)
    service = await consumer().start()
    await publish_raw(channel, names, event_body("c1", type="COMMENT", text="hi",
                                                 recipients=["bob", "carol"]))
    await publish_raw(channel, names, event_body("s1", type="SYSTEM", text="maintenance",
                                                 postId=None))
    await handled(service, 2)
    bob = await buffered(redis, names, "bob")
    assert [n["type"] for n in bob.values()] == ["SYSTEM"]
    assert [n["type"] for n in (await buffered(redis, names, "carol")).values()] == ["COMMENT"]
    assert await metric(service, "herald_notifications_total", outcome="muted") == 1
    # Stopped by a preference: counted, never dead-lettered.
    assert await queue_depth(channel, names.dead_letter_queue) == 0


async def test_quiet_hours_hold_until_released_then_make_it_with_the_settings_of_then(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    config_store: Store, raw_redis: Redis,
) -> None:
    now = datetime.now(UTC)
    # Quiet from an hour ago to an hour from now (UTC), whatever the time of day.
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    await config_store.put_preferences("default", "bob", {}, QuietHours(start, end), now)
    service = await consumer().start()
    await publish_raw(channel, names, event_body("q1", postId="q1"))
    await publish_raw(channel, names, event_body("q2", type="SYSTEM", text="breaks through",
                                                 postId=None))
    [system] = (await wait_for(redis, names, "bob", 1)).values()
    assert system["type"] == "SYSTEM"  # transactional types break through
    held = HeldBuffer(raw_redis, names.keys)
    assert await eventually(held.count, lambda n: n == 1) == 1
    assert await metric(service, "herald_consumer_events_total", outcome="held") == 1

    # The user ends their quiet hours: the held entry is moved to now (as the producer's
    # preferences route does) and the releaser makes it, rendered then.
    await config_store.put_preferences("default", "bob", {}, QuietHours(time(3), time(3)), now)
    [entry] = await held.of_user("default", "bob")
    assert await held.move([(entry, 0)]) == 1
    found = await wait_for(redis, names, "bob", 2)
    assert notification_id("default", "q1", "bob") in found
    assert await eventually(held.count, lambda n: n == 0) == 0


async def test_twelve_likes_on_one_post_are_one_notification_updated_in_place(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
) -> None:
    service = await consumer().start()
    for n in range(12):
        await publish_raw(channel, names, event_body(f"like-{n}", actorId=f"fan{n}",
                                                     postId="p1"))
    # the same actor again, and an exact retry
    await publish_raw(channel, names, event_body("again", actorId="fan3", postId="p1"))
    await publish_raw(channel, names, event_body("like-0", actorId="fan0", postId="p1"))
    await handled(service, 14)
    [(nid, note)] = (await buffered(redis, names, "bob")).items()
    assert nid == notification_id("default", "like-0", "bob")
    assert note["count"] == 12
    assert note["version"] == 12
    assert note["actors"] == ["fan11", "fan10", "fan9"]
    assert note["message"] == "fan11 and 11 others liked your post"
    # A repeated like is no dead letter any more, and no notification.
    assert await queue_depth(channel, names.dead_letter_queue) == 0


async def test_through_the_api_a_type_a_template_and_quiet_hours_ended_early(
    services: Callable[..., Service], consumer: Callable[..., Service], redis: Redis,
    names: Names, raw_redis: Redis,
) -> None:
    producer = await services("producer").start()
    await consumer().start()
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=1)).strftime("%H:%M")
    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers,
                                 timeout=scaled(10)) as api:
        made = await api.put("/v1/event-types/post.created", json={"priority": "promotional"})
        assert made.status_code == 201, made.text
        saved = await api.put("/v1/templates/post.created/en",
                              json={"source": "{{ actorId }} posted {{ data.title }}",
                              "sample": {"data": {"title": "x"}}})
        assert saved.status_code == 200, saved.text
        quiet = await api.put("/v1/users/bob/preferences",
                              json={"types": {}, "quietHours": {"start": start, "end": end}})
        assert quiet.status_code == 200, quiet.text
        sent = await api.post("/v1/events", json={"type": "post.created", "actorId": "alice",
                                                  "targetId": "bob",
                                                  "data": {"title": "Hello"}})
        assert sent.status_code == 202, sent.text
        unknown = await api.post("/v1/events", json={"type": "post.deleted",
                                                     "actorId": "alice", "targetId": "bob"})
        assert unknown.status_code == 422
        assert unknown.json()["error"] == "unknown_type"
        held = HeldBuffer(raw_redis, names.keys)
        assert await eventually(held.count, lambda n: n == 1) == 1
        assert await buffered(redis, names, "bob") == {}
        # Quiet hours off: the producer moves the held notification to now, the consumer's
        # releaser makes it.
        ended = await api.put("/v1/users/bob/preferences", json={"types": {},
                                                                 "quietHours": None})
        assert ended.status_code == 200, ended.text
    [note] = (await wait_for(redis, names, "bob", 1)).values()
    assert note["message"] == "alice posted Hello"
    assert note["type"] == "post.created"
    assert await held.count() == 0


@pytest.mark.parametrize(("source", "data", "reason"), [
    ("{% for i in range(data.n) %}{{ i }}{% endfor %}", {"n": 10**9}, "range"),
    ("{% for i in range(data.n) %}{% for j in range(data.n) %}{% for k in range(data.n) %}"
     "{% endfor %}{% endfor %}{% endfor %}", {"n": 1000}, "too "),
    ("{{ data.s * data.n }}", {"s": "x", "n": 10**8}, "too long"),
    ("{% macro f(n) %}{{ f(n + data.step) }}{% endmacro %}{{ f(0) }}", {"step": 1}, "deep"),
    ("{{ data.x.__class__ }}", {"x": "a"}, "unsafe"),
])
async def test_a_template_that_a_hostile_event_turns_bad_is_stopped_and_the_consumer_goes_on(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    config_store: Store, source: str, data: dict[str, Any], reason: str,
) -> None:
    # Stored as the producer would (its save check renders it with harmless sample data).
    await config_store.put_type("default", TASK)
    await config_store.put_template("default", TASK.name, "en", source, datetime.now(UTC))
    service = await consumer().start()
    await publish_raw(channel, names, event_body("bad", type=TASK.name, postId=None,
                                                 data=data))
    await publish_raw(channel, names, event_body("fine", type="COMMENT", text="still here",
                                                 postId="p1", actorId="zed"))
    [dead] = await read_queue(channel, names.dead_letter_queue, 1)
    assert dead.headers[REASON_HEADER] == "template_failed"
    assert reason in str(dead.headers[DETECT_HEADER])
    [note] = (await wait_for(redis, names, "bob", 1)).values()
    assert note["message"] == 'zed commented on your post: "still here"'
    await handled(service, 2)


async def test_likes_held_through_quiet_hours_are_released_as_one_digest(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    config_store: Store, raw_redis: Redis,
) -> None:
    # The digest window (300 s) closes while they are held: the rule is that held
    # notifications digest when released, so the night's likes of one post are one row.
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    await config_store.put_preferences("default", "bob", {}, QuietHours(start, end), now)
    await consumer().start()
    for n in range(3):
        await publish_raw(channel, names, event_body(f"night-{n}", actorId=f"fan{n}",
                                                     postId="p1"))
    held = HeldBuffer(raw_redis, names.keys)
    await eventually(held.count, lambda n: n == 3)
    await config_store.put_preferences("default", "bob", {}, None, now)
    entries = await held.of_user("default", "bob")
    assert await held.move([(entry, 0) for entry in entries]) == 3
    found = await eventually(lambda: buffered(redis, names, "bob"),
                             lambda f: any(n["count"] == 3 for n in f.values()))
    [note] = found.values()
    assert note["message"].endswith("and 2 others liked your post")
    assert note["version"] == 3


async def test_an_event_queued_before_a_template_edit_renders_with_the_edited_one(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    config_store: Store,
) -> None:
    # The rule: the template in force when the consumer makes the notification.
    await config_store.put_type("default", TASK)
    await config_store.put_template("default", TASK.name, "en", "v1 {{ actorId }}",
                                    datetime.now(UTC))
    service = consumer()
    await service.start()
    await publish_raw(channel, names, event_body("before", type=TASK.name, postId=None))
    [first] = (await wait_for(redis, names, "bob", 1)).values()
    assert first["message"] == "v1 alice"
    service.stop()
    await publish_raw(channel, names, event_body("queued", type=TASK.name, postId=None))
    await config_store.put_template("default", TASK.name, "en", "v2 {{ actorId }}",
                                    datetime.now(UTC))
    service.spawn()
    await service.wait_up()
    found = await wait_for(redis, names, "bob", 2)
    assert found[notification_id("default", "queued", "bob")]["message"] == "v2 alice"


async def test_a_release_reads_the_users_settings_of_now_not_a_cached_copy(
    services: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    config_store: Store, raw_redis: Redis,
) -> None:
    """The consumer caches settings for a long time here; it read bob's quiet hours when it
    held his notification. He ends them (the store, then the producer's move to now): the
    release must read the store, not the cached copy that would hold it again until the
    old end (the fault suite's ``held-through-restarts`` met that)."""
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    await config_store.put_preferences("default", "bob", {}, QuietHours(start, end), now)
    service = await services("consumer", NOTIFICATION_TTL_SECONDS="600",
                             HERALD_CONFIG_TTL_SECONDS="300",
                             HERALD_RELEASE_INTERVAL_SECONDS="0.2").start()
    await publish_raw(channel, names, event_body("cached", postId="cached"))
    held = HeldBuffer(raw_redis, names.keys)
    assert await eventually(held.count, lambda n: n == 1) == 1
    await config_store.put_preferences("default", "bob", {}, None, now)
    [entry] = await held.of_user("default", "bob")
    assert await held.move([(entry, 0)]) == 1
    found = await wait_for(redis, names, "bob", 1)
    assert notification_id("default", "cached", "bob") in found
    assert await metric(service, "herald_consumer_release_outcomes_total",
                        outcome="held_again") == 0


async def test_an_event_taken_just_after_quiet_hours_ended_is_not_held_by_a_cached_copy(
    services: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    config_store: Store, raw_redis: Redis,
) -> None:
    """The consumer caches settings for long here and read bob's quiet hours when it held his
    first notification; he ends them (in the store). The next event must be made at once:
    whoever the cache says is quiet is read again from the store before being held."""
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    await config_store.put_preferences("default", "bob", {}, QuietHours(start, end), now)
    service = await services("consumer", NOTIFICATION_TTL_SECONDS="600",
                             HERALD_CONFIG_TTL_SECONDS="300").start()
    await publish_raw(channel, names, event_body("night"))
    held = HeldBuffer(raw_redis, names.keys)
    await eventually(held.count, lambda n: n == 1)
    await config_store.put_preferences("default", "bob", {}, None, now)
    await publish_raw(channel, names, event_body("morning"))
    found = await wait_for(redis, names, "bob", 1)
    assert [n["eventId"] for n in found.values()] == ["morning"]
    await handled(service, 2)
