"""Stage marks of single events, for the console's Trace page ("what became of event X?").

A service builds one :class:`Tracer` in its wiring, hands it to what marks (constructor
arguments) and to ``start_telemetry``, which starts it. ``mark(event_id, stage, **fields)``
puts the mark into a bounded in-memory buffer (a few microseconds, no I/O) and a background
task flushes the buffer every :data:`FLUSH_SECONDS` in one round trip: one ``trace.lua``
call per trace group appends each event's marks to its list (at most
:data:`MAX_MARKS_PER_EVENT` kept) and sets its expiry to ``TRACE_TTL_SECONDS`` — a handful of
calls per flush rather than three commands per mark, since the flush is paid for by every
event of every service.

Limits, on purpose: at most :data:`MAX_BUFFERED` marks wait in memory; more (Redis slow or
away) are dropped and counted in ``herald_trace_marks_dropped_total``, as is a flush that
fails — tracing never slows or stops the pipeline, and a trace may miss marks.

Marks name events, notifications, services and replicas, never users (an erasure need not
look for them): a notification id stands for its recipient. Until
:meth:`Tracer.start` is called (or with ``TRACE_TTL_SECONDS=0``), ``mark`` does nothing.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import orjson
from prometheus_client import Counter
from redis.asyncio import Redis

from common.buffer.scripts import TRACE as TRACE_SCRIPT
from common.buffer.scripts import RoundTrip
from common.logs import get_logger
from common.naming import Names
from common.rows import Row
from common.tasks import Periodic
from common.telemetry.keys import trace_group, trace_key

__all__ = ["FLUSH_SECONDS", "MAX_BUFFERED", "MAX_MARKS_PER_EVENT", "Tracer", "event_id_of"]

log = get_logger(__name__)

FLUSH_SECONDS = 0.2
MAX_BUFFERED = 20_000
MAX_MARKS_PER_EVENT = 500
"""An event to 10,000 recipients would make 30,000 marks: the first 500 are kept."""
FLUSH_TIMEOUT_SECONDS = 2.0

DROPPED = Counter("herald_trace_marks_dropped_total",
                  "Trace marks dropped: the buffer was full or Redis did not take a flush")

_EVENT_ID = re.compile(r'"eventId":"([A-Za-z0-9._@-]{1,128})"')


def event_id_of(notification_json: str) -> str | None:
    """The ``eventId`` of a notification's JSON, without parsing all of it (hot path)."""
    found = _EVENT_ID.search(notification_json)
    return found.group(1) if found else None


class Tracer:
    """One process's tracer. Not a module global: the service's wiring owns it and passes it
    to what marks, so a test (or a bench) can run several, each with its own buffer."""

    def __init__(self) -> None:
        # (event id, stage, epoch ms, fields): serialised at flush time, off the caller's path
        self._buffer: deque[tuple[str, str, float, dict[str, Any]]] = deque()
        self._redis: Redis | None = None
        self._names: Names | None = None
        self._ttl_ms = 0
        self._origin: dict[str, str] = {}
        self._loop = Periodic("trace-flush", FLUSH_SECONDS, self.flush, final=self.flush,
                              wait_first=True, failure="trace flush failed")

    @property
    def enabled(self) -> bool:
        return self._redis is not None

    def start(self, redis: Redis, names: Names, ttl_seconds: float, service: str,
              replica: str) -> None:
        if ttl_seconds <= 0:
            return
        self._redis, self._names = redis, names
        self._ttl_ms = int(ttl_seconds * 1000)
        self._origin = {"service": service, "replica": replica}
        self._loop.start()

    async def close(self) -> None:
        """Stop, then flush what is buffered (best effort)."""
        await self._loop.stop()
        self._redis = None

    def mark(self, event_id: str | None, stage: str, at_ms: float | None = None,
             **fields: Any) -> None:
        """Record ``stage`` of ``event_id`` now (or at ``at_ms``, epoch ms)."""
        if self._redis is None or not event_id:
            return
        if len(self._buffer) >= MAX_BUFFERED:
            DROPPED.inc()
            return
        self._buffer.append((event_id, stage, time.time() * 1000 if at_ms is None else at_ms,
                             fields))

    def mark_rows(self, stage: str, rows: Iterable[Row]) -> None:
        """One mark per store row (the persister's), preceded by the mark of what the row
        records — ``acked`` (by a client, or ``read`` through the read API) or ``expired`` —
        at that status's own time: the buffer's ACK script leaves no body in the gateway to
        mark it from, and the persist-stream entry carries both."""
        if self._redis is None:
            return
        for row in rows:
            event_id = row.notification.get("eventId")
            self.mark(event_id, row.status, row.status_ms, notificationId=row.id,
                      **({"read": True} if row.read_ms is not None else {}))
            self.mark(event_id, stage, status=row.status, notificationId=row.id)

    async def flush(self) -> int:
        """Write the buffered marks; returns how many (dropped on failure). One
        ``trace.lua`` call per trace group (:data:`~.keys.TRACE_GROUPS`, a handful) appends
        each event's marks to its list, trims it to :data:`MAX_MARKS_PER_EVENT` and sets its
        expiry, all in one round trip."""
        redis, names, buffer = self._redis, self._names, self._buffer
        if redis is None or names is None or not buffer:
            return 0
        taken = [buffer.popleft() for _ in range(len(buffer))]
        origin = self._origin
        by_event: dict[str, list[bytes]] = {}
        for event_id, stage, at, fields in taken:
            by_event.setdefault(event_id, []).append(
                orjson.dumps({"stage": stage, "at": round(at, 2), **origin, **fields}))
        groups: dict[int, tuple[list[str], list[Any], list[int]]] = {}
        for event_id, marks in by_event.items():
            keys, args, counts = groups.setdefault(
                trace_group(event_id), ([], [self._ttl_ms, MAX_MARKS_PER_EVENT], []))
            kept = marks[:MAX_MARKS_PER_EVENT]
            keys.append(trace_key(names, event_id))
            args += [len(kept), *kept]
            counts.append(len(marks))
        trip = RoundTrip()
        for keys, args, _ in groups.values():
            trip.script(TRACE_SCRIPT, keys, args)
        try:
            replies = await trip.run(redis, FLUSH_TIMEOUT_SECONDS)
        except Exception as exc:  # Redis away or slow: these marks are lost, counted
            DROPPED.inc(len(taken))
            log.debug("trace flush failed", error=repr(exc)[:200], marks=len(taken))
            return 0
        failed = sum(sum(counts) for (_, _, counts), reply
                     in zip(groups.values(), replies, strict=True)
                     if isinstance(reply, Exception))
        if failed:
            DROPPED.inc(failed)
        return len(taken) - failed

