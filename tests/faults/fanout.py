"""The fan-out fault (issue 20): one topic event to ``subscribers`` users, the consumer
SIGKILLed in the middle of the fan-out and once more while the last chunk is in flight
(published, not yet recorded), restarted each time; then every subscriber must have exactly
one notification of the event in the store.

The whole stack runs (:class:`tests.faults.stack.Stack`); no client is connected, and
notifications live ``NOTIFICATION_TTL_SECONDS=3``, so the persister's sweeper moves each one
to the store as ``expired``: the store is where the reconciliation looks. **lost** = a
subscriber without a stored notification of the event; **duplicated** = a subscriber with
more than one (their rows are counted by the event id in the body, not by the derived
notification id, so a second id would show). The actor, subscribed too, must have none.

``python -m tests.faults.fanout [SUBSCRIBERS]`` runs it once (2010 subscribers by default)
and prints the row.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
from redis.asyncio import Redis

from common.buffer.fanout import FanoutLedger
from common.models import Event, EventType
from common.store.sqlite import SqliteStore
from common.topology import declare_topology
from tests.faults.stack import Stack
from tests.support.timing import eventually, scaled

__all__ = ["FanoutReport", "run_fanout_fault"]

TOPIC = "followers:actor"
PAGE = 50


@dataclass
class FanoutReport:
    fault: str
    subscribers: int = 0
    pages: int = 0
    killed_at_pages: tuple[int, ...] = ()
    last_chunk_in_flight_at_kill: bool = False
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    actor_notified: int = 0
    seconds: float = 0.0

    def row(self) -> dict[str, Any]:
        return asdict(self)


async def _subscribe(store_path: Path, users: list[str]) -> None:
    store = await SqliteStore.open(str(store_path))
    try:
        await store.subscribe("default", TOPIC, users, datetime.now(UTC) - timedelta(seconds=1))
    finally:
        await store.close()


def _stored(store_path: Path, event_id: str) -> dict[str, int]:
    db = sqlite3.connect(store_path, timeout=10)
    try:
        rows = db.execute("SELECT user_id, count(*) FROM notifications "
                          "WHERE json_extract(body, '$.eventId') = ? GROUP BY user_id",
                          (event_id,)).fetchall()
    finally:
        db.close()
    return dict(rows)


async def run_fanout_fault(workdir: Path, subscribers: int = 2010) -> FanoutReport:
    """``subscribers`` + the actor not a multiple of the page (50): the last page is a
    short one. Whether the second kill landed while the last chunk was in flight (the
    fan-out not done yet) is reported, not asserted: it is a race the harness usually
    wins."""
    started = time.monotonic()
    report = FanoutReport("sigkill-consumer-mid-fanout-and-last-chunk", subscribers)
    users = [f"s{n:06d}" for n in range(subscribers)]
    audience = sorted([*users, "actor"])  # as the store pages them: the actor is on page 0
    total_pages = len(audience) // PAGE + 1
    stack = Stack(workdir, NOTIFICATION_TTL_SECONDS="3", FANOUT_PAGE_SIZE=str(PAGE),
                  FANOUT_LEASE_SECONDS="1")
    try:
        await stack.start()
        await _subscribe(stack.store_path, [*users, "actor"])
        redis = Redis.from_url(stack.env["REDIS_URL"])
        ledger = FanoutLedger(redis, stack.names.keys)
        connection = await aio_pika.connect(stack.rabbitmq_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            topology = await declare_topology(channel, stack.names, 20)
            now = datetime.now(UTC)
            event = Event(eventId=f"{stack.prefix}-topic", type=EventType.SYSTEM,
                          actorId="actor", recipients=[], topic=TOPIC, text="to all",
                          occurredAt=now, acceptedAt=now)
            await topology.events.publish(
                aio_pika.Message(event.model_dump_json().encode(), message_id=event.eventId,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key="event.system")

            async def pages() -> int:
                record = await ledger.get("default", event.eventId)
                return record.counts["pages"] if record is not None else 0

            consumer = stack["consumer"]
            killed: list[int] = []
            # 1. In the middle.
            await eventually(pages, lambda n: n >= total_pages // 3, timeout=60,
                             interval=0.005)
            consumer.kill()
            killed.append(await pages())
            consumer.spawn()
            await consumer.wait_up(timeout=60)
            # 2. While the last chunk is in flight: its marker is set (it was published, or
            # is being published) and the fan-out is not done.
            before_last = audience[(total_pages - 1) * PAGE - 1]
            marker = stack.names.keys.fanout_chunk_marker("default", event.eventId,
                                                          before_last)
            deadline = time.monotonic() + scaled(120)
            while time.monotonic() < deadline and not await redis.exists(marker):
                await asyncio.sleep(0.002)
            record = await ledger.get("default", event.eventId)
            consumer.kill()
            report.last_chunk_in_flight_at_kill = record is not None and \
                record.state == "running"
            killed.append(await pages())
            consumer.spawn()
            await consumer.wait_up(timeout=60)
            report.killed_at_pages = tuple(killed)

            async def state() -> str:
                record = await ledger.get("default", event.eventId)
                return record.state if record is not None else "missing"

            await eventually(state, lambda s: s == "done", timeout=120, interval=0.1)
            report.pages = await pages()
            # Every notification expires (3 s) and the sweeper stores it.
            found = await eventually(
                lambda: asyncio.to_thread(_stored, stack.store_path, event.eventId),
                lambda rows: len(rows) >= subscribers, timeout=120, interval=0.5)
        finally:
            await connection.close()
            await redis.aclose()
    finally:
        await stack.close()
    report.stored = sum(found.values())
    report.lost = sum(1 for u in users if u not in found)
    report.duplicated = sum(count - 1 for count in found.values() if count > 1)
    report.actor_notified = found.get("actor", 0)
    report.seconds = round(time.monotonic() - started, 1)
    return report


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2010
    with tempfile.TemporaryDirectory(prefix="herald-fault-") as tmp:
        print(asyncio.run(run_fanout_fault(Path(tmp), count)).row())
