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
import subprocess
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any

import aio_pika
import httpx
import orjson
from redis.asyncio import Redis

from common.backoff import Backoff
from common.models import notification_id
from common.records import Status
from common.store.factory import open_store
from tests.faults.clients import AckingClient
from tests.faults.stack import Stack
from tests.faults.workloads import Workload
from tests.support.metrics import metric
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
    held: int = 0  # stored, after they were seen held for quiet hours and released
    muted: int = 0  # made nothing: the recipient turned the type off
    delivered_to_muted: int = 0  # made although the recipient turned the type off (a bug)
    muted_metric: float | None = None  # herald_notifications_total{muted}, summed over lives
    joined: int = 0  # a like that joined a digest opened by another (or repeated its actor)
    digests: int = 0  # digest notifications stored, one per (user, post)
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
                 deadline: float = 60.0, workload: Workload | None = None) -> None:
        """``workload``: what is sent to whom, and what the users set before the stream
        (:mod:`tests.faults.workloads`); the plain one by default."""
        deadline = scaled(deadline)
        self.workload = workload if workload is not None else Workload()
        self.stack = stack
        self.users = [f"user{n}" for n in range(users)]
        self.count = events
        self.rate = rate
        self.deadline = deadline
        self.accepted: dict[str, str] = {}  # eventId -> recipient
        self.bodies: dict[str, dict[str, Any]] = {}  # eventId -> the accepted event
        self.sent = asyncio.Event()
        """Set once the stream is over: every event accepted or given up."""
        self.held_ids: set[str] = set()
        """Notification ids a fault saw held for quiet hours (``held-through-restarts``)."""
        self.muted_lives: list[float] = []
        """The muted count of each consumer life, read just before it was killed."""
        self.clients: dict[str, AckingClient] = {}
        self.run_id = stack.prefix
        self.probe_client: AckingClient | None = None
        self.recover_seconds: float | None = None
        self.refused = 0  # 503 answers (each retried with the same eventId)
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    # --- sending ----------------------------------------------------------------------------
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
                    self.bodies[body["eventId"]] = body
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
                body = self.workload.event(self.run_id, self.users, n)
                task = asyncio.create_task(self.post(client, body, until))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
                delay = start + (n + 1) * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if time.monotonic() > until:
                    break
            try:
                await asyncio.gather(*inflight)
            finally:
                self.sent.set()

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
        async with httpx.AsyncClient(base_url=self.stack["producer"].url,
                                     headers=self.stack.key_headers) as api:
            await self.workload.prepare(api, self.users)
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
        """Reconcile until nothing is missing or the deadline passes. With muted users, also
        until RabbitMQ holds none of the run's events (ready or unacknowledged): only then
        is an event that made nothing *muted* rather than not taken yet."""
        until = time.monotonic() + self.deadline
        muting = bool(self.workload.muted_users(self.users))
        while True:
            drained = not muting or await self._notify_backlog() == 0
            report = await self.reconcile(name)
            if (report.lost == 0 and drained) or time.monotonic() > until:
                if muting:
                    self.muted_lives.append(await self.muted_count())
                    report.muted_metric = sum(self.muted_lives)
                if not drained:
                    report.lost_ids.insert(0, "(RabbitMQ still holds events of the run)")
                    report.lost = max(report.lost, 1)
                return report
            await asyncio.sleep(0.5)

    async def muted_count(self) -> float:
        """``herald_notifications_total{outcome="muted"}`` of the running consumer."""
        return await metric(self.stack["consumer"], "herald_notifications_total",
                            outcome="muted")

    async def reconcile(self, name: str) -> Report:
        """Every accepted event accounted for once (the rule: docs/FAULTS.md, "How it is
        measured"): its own notification stored, or its event dead-lettered, or — to a user
        who turned the type off — nothing made anywhere (``muted``), or — a like of a
        digest — its "already made" marker set and its digest stored (``joined``). Each
        digest is one stored row counting the distinct actors of the accepted likes it
        groups. Anything else is lost."""
        stored = await self._stored()
        dead = await self._dead_lettered()
        muted_users = set(self.workload.muted_users(self.users))
        digesting = self.workload.digest_posts > 0
        expected = {eid: notification_id("default", eid, user)
                    for eid, user in self.accepted.items()}
        marked = await self._marked([(self.accepted[eid], nid) for eid, nid in expected.items()
                                     if digesting or self.accepted[eid] in muted_users])
        digests = await self._digest_rows() if digesting else {}
        report = Report(fault=name, accepted=len(expected))
        for event_id, nid in expected.items():
            user = self.accepted[event_id]
            status = stored.get(nid)
            shown = nid in self.clients[user].seen
            if user in muted_users and (status is not None or nid in marked or shown):
                report.delivered_to_muted += 1
            if status is Status.ACKED:
                report.stored_acked += 1
            elif status is Status.EXPIRED:
                report.stored_expired += 1
            elif event_id in dead:
                report.dead_lettered += 1
            elif user in muted_users:
                if nid not in marked and not shown:
                    report.muted += 1
            elif (digesting and nid in marked
                  and (user, self.bodies[event_id].get("postId")) in digests):
                report.joined += 1
            else:
                report.lost_ids.append(event_id)
                continue
            if nid in self.held_ids and status is not None:
                report.held += 1
        report.lost = len(report.lost_ids)
        report.duplicated = await self._duplicates()
        if digesting:
            self._check_digests(report, digests)
        report.repeats = sum(c.repeats for c in self.clients.values())
        report.shown_twice = sum(c.shown_twice for c in self.clients.values())
        return report

    def _check_digests(self, report: Report, digests: dict[tuple[str, str], list[int]]
                       ) -> None:
        """One stored row per (user, post), whose ``count`` is the number of distinct actors
        among the accepted likes of that post: fewer is a like lost (its actor not counted),
        more is one counted that was never accepted, a second row a digest made twice."""
        actors: dict[tuple[str, str], set[str]] = {}
        for body in self.bodies.values():
            actors.setdefault((body["targetId"], body["postId"]), set()).add(body["actorId"])
        report.digests = sum(len(rows) for (user, _), rows in digests.items()
                             if user in self.users)  # the probe's are not the workload's
        for group, who in actors.items():
            rows = digests.get(group, [])
            report.duplicated += max(0, len(rows) - 1)
            counted = max(rows, default=0)
            if counted < len(who):
                report.lost += len(who) - counted
                report.lost_ids.append(f"digest {group}: count {counted}, {len(who)} actors")
            elif counted > len(who):
                report.duplicated += counted - len(who)

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

    async def _digest_rows(self) -> dict[tuple[str, str], list[int]]:
        """(user, postId) → the ``count`` of each stored notification of that post."""

        def read() -> dict[tuple[str, str], list[int]]:
            found: dict[tuple[str, str], list[int]] = {}
            with contextlib.closing(sqlite3.connect(self.stack.store_path)) as db:
                for user, post, count in db.execute(
                        "SELECT user_id, json_extract(body, '$.postId'), "
                        "COALESCE(json_extract(body, '$.count'), 1) FROM notifications "
                        "WHERE tenant_id = 'default'"):
                    found.setdefault((user, post), []).append(int(count))
            return found

        return await asyncio.to_thread(read)

    async def _marked(self, wanted: list[tuple[str, str]]) -> set[str]:
        """Those of the (user, notification id) whose "already made" marker Redis holds:
        set when the notification was made, joined a digest, or repeated a digest's actor."""
        if not wanted:
            return set()
        keys = self.stack.names.keys
        redis = Redis.from_url(self.stack.redis.url)
        try:
            found: set[str] = set()
            for start in range(0, len(wanted), 1000):
                chunk = wanted[start:start + 1000]
                async with redis.pipeline(transaction=False) as pipe:
                    for user, nid in chunk:
                        pipe.exists(keys.seen_key("default", user, nid))
                    answers = await pipe.execute()
                found.update(nid for (_, nid), yes in zip(chunk, answers, strict=True) if yes)
            return found
        finally:
            await redis.aclose()

    async def _notify_backlog(self) -> int:
        """Messages (ready and unacknowledged) in the run's notify queue, as RabbitMQ counts
        them (``rabbitmqctl list_queues``; the shared node only)."""
        assert self.stack.rabbitmq_node is None, "counted on the shared node only"
        done = await asyncio.to_thread(
            subprocess.run, ["rabbitmqctl", "list_queues", "-q", "--no-table-headers",
                             "name", "messages"],
            capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr.decode()[-500:]
        for line in done.stdout.decode().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == self.stack.names.notify_queue:
                return int(parts[1])
        raise AssertionError(f"no queue {self.stack.names.notify_queue} on the broker")

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
