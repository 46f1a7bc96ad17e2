"""The operator's console in headless Chromium against the four services as real processes
(tests/browser/console.mjs): every page renders live data, replaying a dead letter from the
page brings it back into the pipeline, and a wrong or missing key sees nothing. Screenshots
under test-artifacts/console/."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.naming import Names
from common.store.sqlite import SqliteStore
from tests.support.amqp import queue_depth
from tests.support.browser import ARTIFACTS, require_browser, run_scenario
from tests.support.events import actor_window_over, buffered
from tests.support.processes import Service
from tests.support.stack import ADMIN_KEY, start_stack
from tests.support.timing import eventually
from tests.support.ws import Client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def test_every_page_shows_live_data_and_a_dead_letter_is_replayed_from_the_page(
    services: Callable[..., Service], tmp_path: Path, channel: AbstractChannel, redis: Redis,
    names: Names,
) -> None:
    require_browser()
    stack = await start_stack(services, tmp_path, RATE_LIMIT_COUNT="1",
                              RATE_LIMIT_WINDOW_SECONDS="1")
    bob, _ = await Client.authed(stack.gateway.url, "bob")
    try:
        traced = await stack.post({"type": "LIKE", "actorId": "alice", "targetId": "bob",
                                   "postId": "p1"})
        [note] = await bob.notifications(1)
        await bob.ack(note["id"])
        # zed's second event within a second is over its limit: a dead letter.
        await stack.post({"type": "LIKE", "actorId": "zed", "targetId": "bob", "postId": "z1",
                          "eventId": "zed-1"})
        await stack.post({"type": "LIKE", "actorId": "zed", "targetId": "bob", "postId": "z2",
                          "eventId": "zed-2"})
        await eventually(lambda: queue_depth(channel, names.dead_letter_queue), lambda d: d == 1)
        await actor_window_over(redis, names, "zed")  # past zed's window: a replay is admitted

        result = await run_scenario("console.mjs", {
            "HERALD_PRODUCER_URL": stack.producer.url, "HERALD_ADMIN_KEY": ADMIN_KEY,
            "HERALD_API_KEY": stack.key,
            "HERALD_USER": "bob", "HERALD_EVENT_ID": traced, "HERALD_DEAD_ID": "zed-2",
        }, timeout=180, name="console")

        assert result["signedOut"] == {"navHidden": True, "liveHidden": True,
                                       "statsWithoutKey": 401}
        assert "403" in result["wrongKey"]["error"]
        assert result["wrongKey"]["navHidden"]
        assert result["wrongKey"]["keyKept"] is None
        assert result["wrongKey"]["rows"] == 0

        live = result["live"]
        assert float(live["accepted"]) > 0, live
        assert float(live["delivered"]) > 0, live
        assert live["p50"].endswith(("ms", " s"))
        assert live["sameDocument"]
        assert sorted(live["replicas"]) == ["consumer", "persister", "producer", "ws_gateway"]
        assert re.fullmatch(r"Herald \S+ · ([0-9a-f]{7}|unknown)", live["build"]), live
        # the shared Redis has no maxmemory: its size is shown, its policy, a consumer taking
        assert re.fullmatch(r"[0-9.]+ MiB \(no maxmemory\)", live["redisMemory"]), live
        assert live["redisPolicy"] == "noeviction", live
        assert live["consumer"] == "taking events", live
        assert live["refused"] == "0", live

        assert result["deadLetter"]["cells"][2] == "rate_limited"
        assert result["dialogs"] == ["Replay 1 dead letter(s)?"]
        assert result["deadLetter"]["rowsLeft"] == 0
        # Back in the pipeline: buffered for bob and delivered to his open connection.
        await eventually(lambda: buffered(redis, names, "bob"),
                         lambda b: "zed-2" in {n["eventId"] for n in b.values()})
        assert await queue_depth(channel, names.dead_letter_queue) == 0
        assert result["deadTrace"][:3] == ["accepted", "consumed", "rate_limited"]
        assert "dead_lettered" in result["deadTrace"]
        assert "delivered" in result["deadTrace"]

        assert result["user"]["connections"] == "1"
        assert result["user"]["history"] >= 1
        seen: set[str] = set()
        for _ in range(100):  # what the page sent: 40 likes, zed's two, the test one
            if result["user"]["testEventId"] in seen:
                break
            seen |= {n["eventId"] for n in await bob.notifications(1)}
        assert result["user"]["testEventId"] in seen

        assert result["trace"] == ["accepted", "consumed", "buffered", "delivered", "acked",
                                   "persisted"]
        assert "no trace" in result["unknownTrace"]
        assert result["tenants"]["status"].endswith("tenant(s)")
        assert result["tenants"]["keys"] >= 1
        assert "events:write" in result["tenants"]["scopes"]
        assert result["signedOutAgain"] == {"navHidden": True, "rows": 0, "timeline": 0}
        assert not [m for m in result["console"] if m.startswith("pageerror")], result["console"]
        for name in result["screenshots"]:
            assert (ARTIFACTS / "console" / f"{name}.png").stat().st_size > 0
    finally:
        await bob.close()


async def test_types_and_templates_page_creates_a_type_previews_saves_and_shows_a_refusal(
    services: Callable[..., Service], base_env: dict[str, str],
) -> None:
    """The "Types & templates" page (tests/browser/catalog.mjs) against a real producer: what
    the page saved is what the API then answers, and the page shows refusals' reasons."""
    require_browser()
    producer = await services("producer").start()
    result = await run_scenario("catalog.mjs", {
        "HERALD_PRODUCER_URL": producer.url, "HERALD_ADMIN_KEY": ADMIN_KEY,
    }, timeout=120, name="console")

    assert result["navActive"] == "Types & templates"
    assert result["builtins"] == ["COMMENT", "FOLLOW", "LIKE", "MENTION", "SYSTEM"]
    assert result["status"] == "default: 5 type(s), 0 template(s)"
    assert result["badType"].startswith("type:"), result["badType"]
    assert result["created"]["status"] == "created task.assigned"
    assert result["created"]["cells"][:8] == ["task.assigned", "transactional", "yes", "0",
                                              "data.taskId", "on", "breakthrough", "no"]
    assert result["created"]["editorType"] == "task.assigned"
    # markup in the sample data is shown as text, not made into elements
    assert result["preview"] == {"text": "alice assigned you <b>Ship</b> it", "elements": 0,
                                 "error": ""}
    assert "nope" in result["previewError"]["error"]
    assert result["previewError"]["preview"] == ""
    assert result["saved"]["status"] == "saved task.assigned / en, version 1"
    assert result["saved"]["cells"][:3] == ["task.assigned", "en", "1"]
    assert result["refused"]["status"] == "refused"
    assert "__class__" in result["refused"]["error"], result["refused"]
    assert result["refused"]["versions"] == ["1"]
    assert "range" in result["refusedLoop"]
    assert result["editorSource"] == "{{ actorId }} assigned you {{ data.task }} ({{ count }})"
    assert result["version2"][:3] == ["task.assigned", "en", "2"]
    assert result["defaultLocale"] == "de"
    assert "locale" in result["badLocale"]
    assert "to.delete" not in result["afterDelete"]
    assert result["deleteStatus"] == "deleted to.delete"
    assert result["dialogs"] == ["Delete the type to.delete?"]
    assert not [m for m in result["console"] if m.startswith("pageerror")], result["console"]

    async with httpx.AsyncClient(base_url=producer.url, timeout=30) as client:
        params = {"tenantId": "default"}
        auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
        types = (await client.get("/v1/event-types", params=params, headers=auth)).json()
        templates = (await client.get("/v1/templates", params=params, headers=auth)).json()
    assert {t["type"]: t for t in types["types"]}["task.assigned"]["transactional"] is True
    assert [(t["type"], t["locale"], t["version"], t["source"])
            for t in templates["templates"]] == [
        ("task.assigned", "en", 2, "{{ actorId }} gave you {{ data.task }}")]
    assert templates["defaultLocale"] == "de"
    for name in result["screenshots"]:
        assert (ARTIFACTS / "console" / f"{name}.png").stat().st_size > 0


async def test_fanouts_page_follows_one_to_done_cancels_one_part_way_and_shows_a_late_409(
    services: Callable[..., Service], tmp_path: Path,
) -> None:
    """The "Fan-outs" page (tests/browser/fanouts.mjs) on real fan-outs: a topic of 300
    subscribers and one of 2,000, one user a page. The page shows the fan-out running, then
    done with every count, and stops asking; its Cancel stops one part-way (the API agrees);
    a cancel that lands after the last page shows the producer's 409."""
    require_browser()
    store_url = f"sqlite:///{tmp_path}/herald.db"
    store = await SqliteStore.open(store_url.removeprefix("sqlite:///"))
    since = datetime.now(UTC) - timedelta(seconds=1)
    try:
        await store.subscribe("default", "followers:small",
                              [f"s{n:04d}" for n in range(300)], since)
        await store.subscribe("default", "followers:big",
                              [f"b{n:04d}" for n in range(2000)], since)
    finally:
        await store.close()
    stack = await start_stack(services, tmp_path, FANOUT_PAGE_SIZE="1")
    result = await run_scenario("fanouts.mjs", {
        "HERALD_PRODUCER_URL": stack.producer.url, "HERALD_ADMIN_KEY": ADMIN_KEY,
        "HERALD_API_KEY": stack.key, "HERALD_SMALL_TOPIC": "followers:small",
        "HERALD_BIG_TOPIC": "followers:big",
    }, timeout=180, name="console")

    assert result["navActive"] == "Fan-outs"
    assert "no fan-out" in result["unknown"]["status"]
    assert result["unknown"]["viewHidden"]

    watched = result["watched"]
    states = [s["state"] for s in watched["samples"]]
    assert "running" in states, watched["samples"]
    assert states[-1] == "done", watched["samples"]
    running_pages = [int(s["pages"]) for s in watched["samples"] if s["state"] == "running"]
    assert running_pages, watched["samples"]
    assert min(running_pages) < 301, watched["samples"]
    view = watched["view"]
    assert (view["state"], view["topic"], view["pages"], view["recipients"], view["made"]) == (
        "done", "followers:small", "301", "300", "300"), view  # the last page empty
    assert (view["muted"], view["held"], view["duplicate"], view["failed"]) == ("0",) * 4
    assert view["startedAt"].endswith("Z"), view
    assert view["finishedAt"].endswith("Z"), view
    assert not view["cancelVisible"]
    assert watched["status"] == "default · event fan-watched: done"
    assert watched["getsLater"] == watched["getsAtDone"], watched  # polling stopped

    before = result["beforeCancel"]
    assert (before["state"], before["cancelVisible"]) == ("running", True), before
    cancelled = result["cancelled"]
    assert cancelled["view"]["state"] == "cancelled"
    assert not cancelled["view"]["cancelVisible"]
    assert cancelled["view"]["finishedAt"].endswith("Z")
    assert cancelled["status"].startswith("cancelled after "), cancelled
    assert cancelled["deletes"] == 1
    assert cancelled["getsLater"] == cancelled["getsAtCancel"], cancelled
    assert cancelled["api"]["state"] == "cancelled"
    assert cancelled["api"]["recipients"] < 2000, cancelled["api"]
    # at most the page being made when the cancel landed completes after it
    assert cancelled["api"]["pages"] <= int(cancelled["view"]["pages"]) + 1, cancelled

    late = result["late"]
    assert late["shownBefore"] == "running"
    assert "409" in late["status"], late
    assert "already done" in late["status"], late
    assert late["deletes"] == 1
    assert (late["view"]["state"], late["view"]["recipients"]) == ("done", "300"), late

    assert result["dialogs"] == [
        "Cancel the fan-out of event fan-cancelled (tenant default)?",
        "Cancel the fan-out of event fan-late (tenant default)?"]
    assert result["markup"]["elements"] == 0
    assert result["signedOut"] == {"viewHidden": True, "status": ""}
    assert not [m for m in result["console"] if m.startswith("pageerror")], result["console"]
    for name in result["screenshots"]:
        assert (ARTIFACTS / "console" / f"{name}.png").stat().st_size > 0
