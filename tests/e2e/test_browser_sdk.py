"""The JavaScript SDK and ``<herald-inbox>`` in Chromium against the real stack (processes on
free ports): each notification shown once and acknowledged through gateway kills, restarts,
a switch to another gateway and the page's network dropping; and the inbox clicked through.

And the inbox's preferences panel (a type turned off reaches that user no more, others still)
and a tenant template printing markup from event data (shown as text, nothing runs).

The browser side is in tests/browser/ (``stream.mjs``, ``inbox.mjs``, ``preferences.mjs``), run by
tests/support/browser.py; screenshots go to test-artifacts/. Events are posted by
:func:`post_event` only, so a change of ingest credentials touches one function.
"""

from __future__ import annotations

import asyncio
import itertools
import re
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
              "SEMANTIC_WINDOW_SECONDS": "0", "CLAIM_IDLE_SECONDS": "1",
              # what a test configures (types, preferences) is what the next event meets
              "HERALD_CONFIG_TTL_SECONDS": "0"}
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
    # two tabs agree: seen when the bell opens, read on click, archived (issue 20)
    assert result["tabBadgeAtStart"] == "1"
    assert result["badgesAfterBellOpen"] == [None, None]
    assert result["unreadRowsAfterTabRead"] == 0
    before, after = result["tabRowsAfterArchive"]
    assert after == before - 1
    assert result["rowsAfterArchive"] == len(sent)  # 45 + the live one - the archived one
    assert result["seqs"][0] == result["seqs"][1] >= 3

    # the live one made 46; the archived one is out of the default history
    statuses = await eventually(stack.statuses, lambda s: len(s) == len(sent) and all(
        v == "acked" for v in s.values()), timeout=30)
    assert len(statuses) == len(sent)


async def configure(producer: Service, method: str, path: str, body: dict[str, Any]) -> Any:
    """A tenant admin's call (the producer's key has every scope, ``admin`` too)."""
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
        answer = await client.request(method, path, json=body, headers=producer.headers)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


async def consumer_counter(consumer: Service, line: str) -> float:
    """The value of one sample of the consumer's /metrics (0 when absent)."""
    async with httpx.AsyncClient(base_url=consumer.url, timeout=scaled(10)) as client:
        text = (await client.get("/metrics")).text
    for sample in text.splitlines():
        if sample.startswith(line + " "):
            return float(sample.rsplit(" ", 1)[1])
    return 0.0


MUTED = 'herald_notifications_total{outcome="muted"}'


async def test_the_inbox_preferences_turn_a_type_off_for_that_user_only(stack: Stack) -> None:
    [gateway] = stack.gateways
    await configure(stack.producer, "PUT", "/v1/event-types/task.assigned", {})
    await configure(stack.producer, "PUT", "/v1/templates/task.assigned/en",
                    {"source": "{{ actorId }} assigned you {{ data.task }}",
                     "sample": {"data": {"task": "Ship"}}})
    carol, _ = await Client.authed(gateway.url, "carol")
    env = {**env_for(stack, [gateway]), "HERALD_USER": USER,
           "HERALD_API_KEY": stack.producer.headers["X-API-Key"]}
    try:
        async with scenario("preferences.mjs", env, name="inbox-preferences") as page:
            await page.call("open")
            shown = await page.call("prefs")
            types = {t["type"]: t for t in shown["types"]}
            assert list(types)[:5] == ["COMMENT", "FOLLOW", "LIKE", "MENTION", "SYSTEM"]
            assert types["task.assigned"] == {"type": "task.assigned", "checked": True,
                                              "disabled": False, "label": "task.assigned"}
            # a transactional type: shown on, and it cannot be turned off
            assert types["SYSTEM"]["checked"]
            assert types["SYSTEM"]["disabled"]
            assert types["SYSTEM"]["label"] == "SYSTEM (always on)"
            assert shown["quietOn"] is False
            await page.call("screenshot", name="preferences-1-open")

            saved = await page.call("save", types={"task.assigned": False})
            assert (saved["status"], saved["statusIsError"]) == ("Saved", False), saved
            assert {t["type"]: t["checked"] for t in saved["types"]}["task.assigned"] is False
            await page.call("screenshot", name="preferences-2-task-assigned-off")
            async with httpx.AsyncClient(base_url=stack.producer.url) as client:
                mine = (await client.get(f"/v1/users/{USER}/preferences", headers={
                    "Authorization": f"Bearer {token(USER)}"})).json()
            assert mine["types"]["task.assigned"]["enabled"] is False
            assert mine["types"]["LIKE"]["enabled"] is True

            # One event for both: bob turned the type off, carol did not.
            muted_before = await consumer_counter(stack.consumer, MUTED)
            assigned = await post_event(stack.producer, type="task.assigned", actorId="alice",
                                        targetId=None, targetIds=[USER, "carol"], postId=None,
                                        data={"task": "the release"})
            [note] = await carol.notifications(1)
            assert (note["eventId"], note["message"]) == (assigned,
                                                          "alice assigned you the release")
            await eventually(lambda: consumer_counter(stack.consumer, MUTED),
                             lambda n: n == muted_before + 1)
            # bob still gets the types he left on (sent after: by then the muted one is done)
            await post_event(stack.producer, actorId="dave", postId="after-prefs")
            await page.call("waitMessage", text="dave liked your post")
            rows = (await page.call("rows"))["rows"]
            assert not [r for r in rows if "assigned" in r["text"]], rows
            await page.call("screenshot", name="preferences-3-muted-type-not-shown")
            assert assigned not in await stack.statuses()

            # quiet hours and the time zone they are in; a bad zone shows why it was refused
            refused = await page.call("save", quiet={"start": "22:30", "end": "06:45"},
                                      timeZone="Mars/Olympus")
            assert refused["statusIsError"], refused
            assert refused["status"].startswith("Not saved: timeZone"), refused
            await page.call("screenshot", name="preferences-4-refused-time-zone")
            saved = await page.call("save", timeZone="Europe/Vienna")
            assert (saved["status"], saved["quietOn"], saved["start"], saved["end"],
                    saved["timeZone"]) == ("Saved", True, "22:30", "06:45", "Europe/Vienna")
            async with httpx.AsyncClient(base_url=stack.producer.url) as client:
                auth = {"Authorization": f"Bearer {token(USER)}"}
                prefs = (await client.get(f"/v1/users/{USER}/preferences", headers=auth)).json()
                profile = (await client.get(f"/v1/users/{USER}/profile", headers=auth)).json()
            assert prefs["quietHours"] == {"start": "22:30", "end": "06:45"}
            assert prefs["types"]["task.assigned"]["enabled"] is False
            assert profile["timeZone"] == "Europe/Vienna"
            await page.call("screenshot", name="preferences-5-quiet-hours")
            made = await page.call("inspect")
            assert made["errors"] == [], made
    finally:
        await carol.close()


XSS_SCRIPT = "<script>alert(1)</script>"
XSS_LINK = "javascript:alert(1)"


async def test_markup_in_event_data_shows_as_text_in_the_inbox(stack: Stack) -> None:
    """A tenant template prints event data holding a script tag, an event handler and a
    ``javascript:`` link (raw and as Markdown): the inbox shows the characters, makes no
    element, no link, and nothing runs."""
    [gateway] = stack.gateways
    await configure(stack.producer, "PUT", "/v1/event-types/comment.posted", {})
    source = ("{{ actorId }}: {{ data.html }} <img src=x onerror=\"window.__xss=1\"> "
              "[open]({{ data.link }}) <a href=\"{{ data.link }}\">open</a>")
    await configure(stack.producer, "PUT", "/v1/templates/comment.posted/en",
                    {"source": source, "sample": {"data": {"html": "x", "link": "y"}}})
    expected = (f"mallory: {XSS_SCRIPT} <img src=x onerror=\"window.__xss=1\"> "
                f"[open]({XSS_LINK}) <a href=\"{XSS_LINK}\">open</a>")
    env = {**env_for(stack, [gateway]), "HERALD_USER": USER,
           "HERALD_API_KEY": stack.producer.headers["X-API-Key"]}
    async with scenario("preferences.mjs", env, name="inbox-markup") as page:
        await page.call("open")
        sent = await post_event(stack.producer, type="comment.posted", actorId="mallory",
                                postId=None, data={"html": XSS_SCRIPT, "link": XSS_LINK})
        await page.call("waitMessage", text="mallory: <script>")
        [row] = [r for r in (await page.call("rows"))["rows"] if "mallory" in r["text"]]
        assert row["text"] == expected
        assert row["children"] == 0
        assert row["links"] == 0
        assert "&lt;script&gt;" in row["html"]  # the characters, escaped by the DOM itself
        made = await page.call("inspect")
        await page.call("screenshot", name="inbox-markup-as-text")
    assert made == {"scripts": 0, "anchors": 0, "iframes": 0, "images": 0, "xss": None,
                    "dialogs": [], "errors": []}, made
    # and the history (the read API) keeps the text as it was rendered
    statuses = await eventually(stack.statuses, lambda s: sent in s)
    assert statuses[sent] in ("pending", "acked")


async def test_twelve_likes_on_one_post_are_one_row_in_the_inbox(stack: Stack) -> None:
    """A digest (built-in LIKE: per post, a 300 s window): twelve people like bob's post while
    the inbox is open; it shows ONE row, updated in place to "… and 11 others liked your
    post", counted once in the badge, and a reload (the history) shows the same one row."""
    [gateway] = stack.gateways
    env = {**env_for(stack, [gateway]), "HERALD_USER": USER,
           "HERALD_API_KEY": stack.producer.headers["X-API-Key"]}
    fans = [f"fan{n:02d}" for n in range(1, 13)]
    async with scenario("preferences.mjs", env, name="inbox-digest") as page:
        await page.call("open")
        for fan in fans:
            await post_event(stack.producer, actorId=fan, postId="the-post")
        await page.call("waitMessage", text="and 11 others liked your post")
        live = await page.call("rows")
        await page.call("screenshot", name="inbox-digest-live")
        statuses = await eventually(stack.statuses, lambda s: len(s) >= 1)
        await page.call("reload")
        await page.call("waitMessage", text="and 11 others liked your post")
        history = await page.call("rows")
        await page.call("screenshot", name="inbox-digest-after-reload")
    for shown in (live, history):
        assert len(shown["rows"]) == 1, shown
        [row] = shown["rows"]
        assert re.fullmatch(r"fan\d\d and 11 others liked your post", row["text"]), row
        assert row["unread"]
        assert shown["badge"] == "1", shown
    assert live["rows"][0]["id"] == history["rows"][0]["id"]
    assert len(statuses) == 1, statuses  # stored once
