"""The JavaScript SDK and ``<herald-inbox>`` in Chromium against the real stack (processes on
free ports): each notification shown once and acknowledged through gateway kills, restarts,
a switch to another gateway and the page's network dropping; and the inbox clicked through.

The browser side is in tests/browser/ (``stream.mjs``, ``inbox.mjs``), run by
tests/support/browser.py; screenshots go to test-artifacts/. Events are posted by
:func:`post_event` only, so a change of ingest credentials touches one function.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import require_browser, run_scenario, scenario
from tests.support.processes import Service
from tests.support.timing import eventually, scaled
from tests.support.ws import SECRET, Client, token

# A browser, five services and two restarts: more than the suite's default 120 s on a busy
# machine (each test takes 40-80 s here).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(scaled(300))]

USER = "bob"
_posts = itertools.count(1)


async def post_event(producer: Service, **fields: Any) -> str:
    """POST one event as a careful app would (the one place that knows ingest's credentials):
    a 503 (no broker confirm in time, on a busy machine) is sent again with the same eventId
    after its Retry-After, a bounded number of times."""
    body = {"type": "LIKE", "actorId": "alice", "targetId": USER,
            "postId": f"p{next(_posts)}", "eventId": str(uuid.uuid4()), **fields}
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
        for _ in range(5):
            answer = await client.post("/v1/events", json=body, headers=producer.headers)
            if answer.status_code != 503:
                break
            await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
    assert answer.status_code == 202, answer.text
    event_id: str = answer.json()["eventId"]
    return event_id


@dataclass
class Stack:
    producer: Service
    gateways: list[Service]
    consumer: Service
    persister: Service

    def ws(self, gateway: Service) -> str:
        return gateway.url.replace("http://", "ws://") + "/ws"

    async def statuses(self) -> dict[str, str]:
        """eventId → status of every notification of USER, by the read API."""
        headers = {"Authorization": f"Bearer {token(USER)}"}
        out: dict[str, str] = {}
        async with httpx.AsyncClient(base_url=self.producer.url) as client:
            cursor: str | None = None
            for _ in range(50):
                params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
                answer = await client.get(f"/v1/users/{USER}/notifications", params=params,
                                          headers=headers)
                assert answer.status_code == 200, answer.text
                page = answer.json()
                out.update({n["eventId"]: n["status"] for n in page["notifications"]})
                cursor = page["nextCursor"]
                if not page["hasMore"]:
                    break
        return out


@pytest.fixture
async def stack(services: Callable[..., Service], tmp_path: Path,
                request: pytest.FixtureRequest) -> Stack:
    require_browser()  # skip (or fail in CI) before starting anything
    gateways = getattr(request, "param", 1)
    common = {"JWT_SECRET": SECRET, "STORE_URL": f"sqlite:///{tmp_path}/herald.db",
              "NOTIFICATION_TTL_SECONDS": "3600", "SWEEP_INTERVAL_SECONDS": "0.2",
              "SEMANTIC_WINDOW_SECONDS": "0", "CLAIM_IDLE_SECONDS": "1"}
    # five processes start at once: give them longer than one alone needs
    started = await asyncio.gather(
        services("consumer", **common).start(timeout=30),
        services("persister", **common).start(timeout=30),
        services("producer", **common).start(timeout=30),
        *(services("ws_gateway", **common).start(timeout=30) for _ in range(gateways)),
    )
    consumer, persister, producer, *gws = started
    return Stack(producer, list(gws), consumer, persister)


async def post_many(stack: Stack, count: int, spacing: float = 0.03) -> list[str]:
    sent = []
    for _ in range(count):
        sent.append(await post_event(stack.producer))
        await asyncio.sleep(spacing)
    return sent


def assert_each_once_and_acked(report: dict[str, Any], expected: int) -> None:
    shown = report["shown"]
    assert len(shown) == expected, f"shown {len(shown)} of {expected}: {report}"
    assert report["unique"] == expected, f"{expected - report['unique']} shown twice"
    assert set(report["acked"]) >= set(shown), "some shown notifications were never ACK_OK'd"
    assert report["owed"] == 0


async def assert_store_all_acked(stack: Stack, sent: list[str]) -> None:
    statuses = await eventually(
        stack.statuses, lambda s: all(s.get(e) == "acked" for e in sent), timeout=30)
    assert set(statuses) == set(sent)


def env_for(stack: Stack, gateways: list[Service]) -> dict[str, str]:
    return {"HERALD_PRODUCER_URL": stack.producer.url,
            "HERALD_GATEWAYS": " ".join(stack.ws(g) for g in gateways),
            "HERALD_TOKEN": token(USER, ttl=3600)}


async def test_each_notification_once_through_a_gateway_kill_and_a_network_drop(
    stack: Stack,
) -> None:
    [gateway] = stack.gateways
    async with scenario("stream.mjs", env_for(stack, [gateway]), name="stream-one-gateway") as page:
        opened = await page.call("open")
        sent = await post_many(stack, 15)

        gateway.kill()  # kill -9: no close frame, the page sees a drop
        sent += await post_many(stack, 10)  # buffered in Redis meanwhile
        await gateway.start(timeout=30)
        await page.call("waitOpen", connects=opened["connects"] + 1)
        sent += await post_many(stack, 10)

        drop = post_many(stack, 15)
        offline = page.call("offline", ms=int(scaled(3000)), timeout=60)
        more, during = await asyncio.gather(drop, offline)
        sent += more
        assert during["during"]["onLine"] is False

        sent += await post_many(stack, 10)
        report = await page.call("wait", count=len(sent), timeoutMs=30_000, timeout=90)
        await page.call("screenshot", name="stream-one-gateway")
    assert report["done"], report
    assert_each_once_and_acked(report, len(sent))
    assert report["stats"]["connects"] >= 3, report["stats"]  # first, after the kill, after offline
    await assert_store_all_acked(stack, sent)


@pytest.mark.parametrize("stack", [2], indirect=True)
async def test_the_page_moves_to_the_other_gateway_when_its_own_dies(stack: Stack) -> None:
    first, second = stack.gateways
    async with scenario("stream.mjs", env_for(stack, [first, second]),
                        name="stream-two-gateways") as page:
        opened = await page.call("open")
        sent = await post_many(stack, 10)
        on, other = (first, second) if opened["url"] == stack.ws(first) else (second, first)

        on.kill()
        sent += await post_many(stack, 10)
        moved = await page.call("waitOpen", connects=opened["connects"] + 1)
        assert moved["url"] == stack.ws(other)
        sent += await post_many(stack, 10)

        await on.start(timeout=30)
        other.kill()  # and back again
        sent += await post_many(stack, 10)
        back = await page.call("waitOpen", connects=moved["connects"] + 1)
        assert back["url"] == stack.ws(on)

        report = await page.call("wait", count=len(sent), timeoutMs=30_000, timeout=90)
        await page.call("screenshot", name="stream-two-gateways")
    assert report["done"], report
    assert_each_once_and_acked(report, len(sent))
    assert {stack.ws(first), stack.ws(second)} <= set(report["opens"])
    await assert_store_all_acked(stack, sent)


async def test_the_inbox_pages_marks_read_and_shows_live_arrivals(stack: Stack) -> None:
    [gateway] = stack.gateways
    actors = ["alice", "carol", "dave", "erin", "frank"]
    sent = [await post_event(stack.producer, actorId=actors[n % 5], postId=f"inbox-{n}",
                             **({"type": "COMMENT", "text": f"comment number {n}"}
                                if n % 3 == 0 else {}))
            for n in range(45)]
    # Seen on another device (acknowledged, not read): the page starts from a settled store.
    # (While an ACK moves a notification from Redis to the store, unread-count may miss it.)
    other_device, _ = await Client.authed(gateway.url, USER)
    notes = await other_device.notifications(len(sent))
    await other_device.ack(*[n["id"] for n in notes])
    await eventually(stack.statuses, lambda s: len(s) == len(sent) and all(
        v == "acked" for v in s.values()), timeout=30)
    await other_device.close()
    env = {**env_for(stack, [gateway]), "HERALD_USER": USER, "HERALD_EXPECTED": str(len(sent)),
           "HERALD_API_KEY": stack.producer.headers["X-API-Key"]}
    result = await run_scenario("inbox.mjs", env, timeout=120)

    assert result["badgeAtStart"] == str(len(sent))
    assert result["firstPage"] == 20
    assert result["afterScroll"] == len(sent)
    assert result["badgeAfterMarkRead"] == str(len(sent) - 1)
    assert result["badgeAfterMarkAll"] is None  # hidden at 0
    assert result["unreadRowsAfterMarkAll"] == 0
    assert result["liveMessage"] == "alice commented on your post: \"hello from the form\""
    assert result["badgeAfterLive"] == "1"
    assert result["focusAfterArrowDown"]
    assert result["focusAfterEscape"] == "bell"
    assert result["liveRegion"], "the arrival was announced"
    assert len(result["screenshots"]) >= 4

    statuses = await eventually(stack.statuses, lambda s: len(s) == len(sent) + 1 and all(
        v == "acked" for v in s.values()), timeout=30)
    assert len(statuses) == len(sent) + 1
