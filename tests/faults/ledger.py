"""The ledger: a bounded stream of events with unique ids in, every notification accounted
for at the end.

Every event the producer answered 202 must end as exactly one notification per recipient in
the store (``acked`` or ``expired``) or in the dead-letter queue with a reason. The sender
retries an event (same ``eventId``) while the producer is unreachable or answers 503, as a
careful client would; an event never answered 202 is not "accepted" and owed nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any

import aio_pika
import httpx
import orjson

from common.backoff import Backoff
from common.models import notification_id
from common.records import Status
from common.store.factory import open_store
from tests.faults.clients import AckingClient
from tests.faults.stack import Stack
from tests.support.timing import scaled

__all__ = ["Ledger", "Report"]

Fault = Callable[[Stack, "Ledger"], Coroutine[Any, Any, None]]


@dataclass
class Report:
    fault: str
    accepted: int = 0
    stored_acked: int = 0
    stored_expired: int = 0
    dead_lettered: int = 0
    lost: int = 0
    duplicated: int = 0
    repeats: int = 0
    shown_twice: int = 0
    refused: int = 0  # 503 answers the sender retried
    recover_seconds: float | None = None
    seconds: float = 0.0
    lost_ids: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("lost_ids")
        return data


MAX_IN_FLIGHT = 32


class Ledger:
    def __init__(self, stack: Stack, users: int = 10, events: int = 300, rate: float = 150.0,
                 deadline: float = 60.0, text_bytes: int = 0) -> None:
        """``text_bytes`` > 0: the events are ``SYSTEM`` ones whose text (the notification's
        message) is that long, so each buffered notification weighs a few kB (the faults
        that fill Redis)."""
        deadline = scaled(deadline)
        self.text_bytes = text_bytes
        self.stack = stack
        self.users = [f"user{n}" for n in range(users)]
        self.count = events
        self.rate = rate
        self.deadline = deadline
        self.accepted: dict[str, str] = {}  # eventId -> recipient
        self.clients: dict[str, AckingClient] = {}
        self.run_id = stack.prefix
        self.probe_client: AckingClient | None = None
        self.recover_seconds: float | None = None
        self.refused = 0  # 503 answers (each retried with the same eventId)
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    # --- sending ----------------------------------------------------------------------------
    def _event(self, n: int) -> tuple[str, dict[str, Any]]:
        event_id = f"{self.run_id}-{n}"
        user = self.users[n % len(self.users)]
        if self.text_bytes > 0:
            text = f"{n} " + "x" * max(0, self.text_bytes - len(str(n)) - 1)
            return event_id, {"eventId": event_id, "type": "SYSTEM", "actorId": f"actor{n % 50}",
                              "targetId": user, "text": text}
        return event_id, {"eventId": event_id, "type": "LIKE", "actorId": f"actor{n % 50}",
                          "targetId": user, "postId": f"p{n}"}

    async def post(self, client: httpx.AsyncClient, body: dict[str, Any], until: float) -> bool:
        """POST until answered 202 (retrying the same eventId, with backoff and full jitter)
        or ``until`` passes. At most ``MAX_IN_FLIGHT`` requests are under way at once, as a
        careful client keeps them: while the producer is down, retries wait their turn
        instead of piling up in the connection pool."""
        backoff = Backoff(initial=0.1, maximum=2.0)
        while time.monotonic() < until:
            try:
                async with self._in_flight:
                    answer = await client.post("/v1/events", json=body, timeout=5)
                if answer.status_code == 202:
                    self.accepted[body["eventId"]] = body["targetId"]
                    return True
                if answer.status_code == 503:
                    self.refused += 1
                else:
                    raise AssertionError(f"unexpected {answer.status_code}: {answer.text}")
            except httpx.TransportError:
                pass
            await asyncio.sleep(min(backoff.next(), max(0.0, until - time.monotonic())))
        return False

    async def _send_all(self, fault_at: int, fault: Fault | None,
                        fault_task: list[asyncio.Task[None]]) -> None:
        until = time.monotonic() + self.deadline
        interval = 1.0 / self.rate
        start = time.monotonic()
        inflight: set[asyncio.Task[bool]] = set()
        async with httpx.AsyncClient(base_url=self.stack["producer"].url,
                                     headers=self.stack.key_headers,
                                     limits=httpx.Limits(max_connections=64)) as client:
            for n in range(self.count):
                if fault is not None and n == fault_at:
                    fault_task.append(asyncio.create_task(fault(self.stack, self)))
                _, body = self._event(n)
                task = asyncio.create_task(self.post(client, body, until))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
                delay = start + (n + 1) * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if time.monotonic() > until:
                    break
            await asyncio.gather(*inflight)

    # --- time to recover ---------------------------------------------------------------------
    async def measure_recovery(self, since: float) -> float:
        """Seconds from ``since`` until a fresh event reaches its client end to end."""
        assert self.probe_client is not None
        async with httpx.AsyncClient(base_url=self.stack["producer"].url,
                                     headers=self.stack.key_headers) as client:
            n = 0
            while time.monotonic() - since < self.deadline:
                n += 1
                event_id = f"{self.run_id}-probe-{n}"
                body = {"eventId": event_id, "type": "LIKE", "actorId": "prober",
                        "targetId": "probe", "postId": f"probe{n}"}
                posted = await self.post(client, body, time.monotonic() + 2)
                wanted = notification_id("default", event_id, "probe")
                for _ in range(20):
                    if posted and wanted in self.probe_client.seen:
                        return time.monotonic() - since
                    await asyncio.sleep(0.05)
        raise AssertionError("the pipeline did not recover within the deadline")

    # --- the run -------------------------------------------------------------------------------
    async def run(self, name: str, fault: Fault | None) -> Report:
        started = time.monotonic()
        for user in [*self.users, "probe"]:
            self.clients[user] = AckingClient(self.stack["ws_gateway"].url, user)
            self.clients[user].start()
        self.probe_client = self.clients["probe"]
        fault_task: list[asyncio.Task[None]] = []
        await self._send_all(self.count // 3, fault, fault_task)
        await asyncio.gather(*fault_task)
        report = await self._settle(name)
        for client in self.clients.values():
            await client.close()
        report.seconds = round(time.monotonic() - started, 1)
        if self.recover_seconds is not None:
            report.recover_seconds = round(self.recover_seconds, 2)
        return report

    async def _settle(self, name: str) -> Report:
        expected = {notification_id("default", e, u): e for e, u in self.accepted.items()}
        until = time.monotonic() + self.deadline
        while True:
            report = await self.reconcile(name, expected)
            if report.lost == 0 or time.monotonic() > until:
                return report
            await asyncio.sleep(0.5)

    async def reconcile(self, name: str, expected: dict[str, str]) -> Report:
        stored = await self._stored()
        dead = await self._dead_lettered()
        report = Report(fault=name, accepted=len(expected))
        found = 0
        for nid, event_id in expected.items():
            status = stored.get(nid)
            if status is Status.ACKED:
                report.stored_acked += 1
            elif status is Status.EXPIRED:
                report.stored_expired += 1
            elif event_id in dead:
                report.dead_lettered += 1
            else:
                report.lost_ids.append(event_id)
                continue
            found += 1
        report.lost = len(expected) - found
        report.duplicated = await self._duplicates()
        report.repeats = sum(c.repeats for c in self.clients.values())
        report.shown_twice = sum(c.shown_twice for c in self.clients.values())
        return report

    async def _stored(self) -> dict[str, Status]:
        store = await open_store(f"sqlite:///{self.stack.store_path}")
        try:
            result: dict[str, Status] = {}
            for user in [*self.users, "probe"]:
                cursor = None
                while True:
                    page, cursor = await store.history("default", user, 1000, cursor)
                    result.update({r.notification.id: r.status for r in page})
                    if cursor is None:
                        break
            return result
        finally:
            await store.close()

    async def _duplicates(self) -> int:
        """Rows beyond the first for one (eventId, recipient): ids are derived, so this counts
        notifications made twice for one event under different ids."""

        def count() -> int:
            with contextlib.closing(sqlite3.connect(self.stack.store_path)) as db:
                row = db.execute(
                    "SELECT COUNT(*) - COUNT(DISTINCT json_extract(body, '$.eventId') || '|' "
                    "|| tenant_id || '|' || user_id) FROM notifications").fetchone()
                return int(row[0])

        return await asyncio.to_thread(count)

    async def _dead_lettered(self) -> set[str]:
        connection = await aio_pika.connect(self.stack.rabbitmq_url)
        found: set[str] = set()
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.stack.names.dead_letter_queue, passive=True)
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
                    found.add(orjson.loads(message.body)["eventId"])
        return found  # unacked: closing the channel puts them back
