"""The unseen and unread counts under concurrency (issue 20), against the real Redis,
RabbitMQ, SQLite store and the four services: for each of two users, two WebSocket
connections (tabs) and a backend on the read API mark seen / read / archived / unarchived,
one by one and all at once, while notifications arrive, are ACKed without a mark, and expire
(a short TTL and a fast sweep). Bounded: a fixed number of rounds and events, every wait
bounded (``HERALD_TEST_TIMEOUT_FACTOR``).

Checked: every ``INBOX_STATE`` a tab receives has ``0 <= unseen <= unread`` (read implies
seen); the seqs a tab keeps (the newest-wins rule of the SDKs) only grow. Once everything has
left the buffer and the persister has caught up (every notification made is a row), the
counts the read API answers, and the ``INBOX_STATE`` of one more mark in every tab, equal the
truth counted from the store's rows themselves; and every row obeys the nesting
(archived ⇒ read ⇒ seen)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
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
from tests.support.timing import eventually, scaled
from tests.support.ws import SECRET, Client, token

pytestmark = pytest.mark.integration

USERS = ("ann", "ben")
ROUNDS = 4
PER_ROUND = 10
TTL_SECONDS = 3


@dataclass
class Tab:
    """One connection of a user and what it received, read by a task of its own."""

    client: Client
    ids: list[str] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # the seqs shown (newest wins)
    answers: list[dict[str, Any]] = field(default_factory=list)  # MARK_OK, ERROR

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await self.client.recv(timeout=3600)
                kind = frame["type"]
                if kind == "NOTIFICATION":
                    self.ids.append(frame["notification"]["id"])
                elif kind == "INBOX_STATE":
                    self.states.append(frame)
                    if not self.kept or frame["seq"] > self.kept[-1]:
                        self.kept.append(frame["seq"])
                elif kind in ("MARK_OK", "ERROR"):
                    self.answers.append(frame)

    async def mark(self, mark: str, ids: list[str]) -> None:
        if ids:
            await self.client.send({"type": "MARK", "mark": mark, "notificationIds": ids})

    async def mark_all(self, mark: str) -> None:
        await self.client.send({"type": "MARK_ALL", "mark": mark})

    async def ack(self, ids: list[str]) -> None:
        if ids:
            await self.client.send({"type": "ACK", "notificationIds": ids})


async def states_of(tab: Tab) -> list[dict[str, Any]]:
    return tab.states


def truth(db: Path, user: str) -> tuple[int, int, int]:
    """(rows, unseen, unread) counted from the user's rows, each checked for the nesting."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT seen_ms, read_ms, archived_ms FROM notifications "
                            "WHERE tenant_id = 'default' AND user_id = ?", (user,)).fetchall()
    for seen, read, archived in rows:
        assert archived is None or read is not None, "archived implies read"
        assert read is None or seen is not None, "read implies seen"
    return (len(rows), sum(1 for r in rows if r[0] is None),
            sum(1 for r in rows if r[1] is None))


async def test_counts_stay_exact_under_marks_arrivals_acks_and_expiry(
    services: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    base_env: dict[str, str],
) -> None:
    ttl = str(scaled(TTL_SECONDS))
    await services("consumer", NOTIFICATION_TTL_SECONDS=ttl, RATE_LIMIT_COUNT="100000",
                   SEMANTIC_WINDOW_SECONDS="0").start()
    await services("persister", SWEEP_INTERVAL_SECONDS="0.2").start()
    producer = await services("producer").start()
    gateways = [await services("ws_gateway", JWT_SECRET=SECRET).start() for _ in range(2)]
    db = Path(base_env["STORE_URL"].removeprefix("sqlite:///"))
    tabs = {user: [Tab((await Client.authed(g.url, user))[0]) for g in gateways]
            for user in USERS}
    readers = [asyncio.create_task(t.read()) for ts in tabs.values() for t in ts]
    rng = random.Random(20)
    api = httpx.AsyncClient(base_url=producer.url, timeout=scaled(10))
    api_states: list[dict[str, Any]] = []

    async def backend(user: str, mark: str, ids: list[str]) -> None:
        if not ids:
            return
        answer = await api.post(f"/v1/users/{user}/notifications/marks", json={
            "mark": mark, "notificationIds": ids},
            headers={"Authorization": f"Bearer {token(user)}"})
        assert answer.status_code == 200, answer.text
        api_states.append(answer.json()["state"])

    async def publish(user: str, round_: int) -> None:
        for n in range(PER_ROUND):
            await publish_raw(channel, names, event_body(
                f"{user}-{round_}-{n}", recipients=[user], postId=f"{user}-{round_}-{n}"))

    async def work(user: str, round_: int) -> None:
        one, two = tabs[user]
        await eventually(lambda: asyncio.sleep(0, len(one.ids)),
                         lambda n: n >= PER_ROUND * (round_ + 1), timeout=30)
        fresh = one.ids[PER_ROUND * round_:]
        older = one.ids[:PER_ROUND * round_]
        pick = rng.sample(fresh, 7)
        steps = [one.ack(pick[0:2]), one.mark("read", pick[2:4]), two.mark("seen", pick[4:5]),
                 two.mark("archived", pick[5:6]),
                 backend(user, "seen", pick[6:7] + rng.sample(older, min(2, len(older)))),
                 backend(user, "unarchived", rng.sample(older, min(3, len(older)))),
                 one.mark("read", rng.sample(older, min(2, len(older))))]
        if round_ == 1:
            steps.append(two.mark_all("seen"))
        if round_ == 2:
            steps.append(one.mark_all("read"))
        # arrivals of the next round while these marks run; the rest of this round is left
        # to expire (TTL) or to the marks of all
        if round_ + 1 < ROUNDS:
            steps.append(publish(user, round_ + 1))
        await asyncio.gather(*steps)

    try:
        await asyncio.gather(*(publish(user, 0) for user in USERS))
        for round_ in range(ROUNDS):
            await asyncio.gather(*(work(user, round_) for user in USERS))

        # settle: nothing pending (ACKed, marked or expired), every notification a row
        made = ROUNDS * PER_ROUND
        for user in USERS:
            index = names.keys.pending_index("default", user)
            await eventually(partial(redis.zcard, index), lambda n: n == 0,
                             timeout=scaled(TTL_SECONDS) + 30)
            await eventually(partial(asyncio.to_thread, truth, db, user),
                             lambda t: t[0] == made, timeout=30)
        for user in USERS:
            rows, unseen, unread = truth(db, user)
            answer = await api.get(f"/v1/users/{user}/notifications/counts",
                                   headers={"Authorization": f"Bearer {token(user)}"})
            counts = answer.json()
            assert (counts["unseen"], counts["unread"]) == (unseen, unread), (user, rows)
            assert unread > 0  # some expired untouched: the test did leave some unread
            # one more mark, at rest: every tab gets the exact counts with the newest seq
            one, two = tabs[user]
            await one.mark("seen", ["none-of-theirs"])
            for tab in (one, two):
                await eventually(partial(states_of, tab),
                                 lambda s: bool(s) and s[-1]["notificationIds"] == [],
                                 timeout=30)  # the ids marked: none were theirs
                last = tab.states[-1]
                assert (last["unseen"], last["unread"]) == (unseen, unread)
                assert last["seq"] == tab.kept[-1] == max(s["seq"] for s in tab.states)
            assert one.states[-1] == two.states[-1]
    finally:
        for reader in readers:
            reader.cancel()
        for ts in tabs.values():
            for tab in ts:
                await tab.client.ws.close()
        await api.aclose()

    for user in USERS:
        for tab in tabs[user]:
            assert all(0 <= s["unseen"] <= s["unread"] for s in tab.states), tab.states
            assert tab.kept == sorted(tab.kept)
            assert not [a for a in tab.answers if a["type"] == "ERROR"], tab.answers
            assert len([a for a in tab.answers if a["type"] == "MARK_OK"]) >= ROUNDS
    assert all(0 <= s["unseen"] <= s["unread"] for s in api_states)
