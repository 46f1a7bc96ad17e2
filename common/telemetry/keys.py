"""Every Redis key name the operator's telemetry uses (replica stats, presence, traces).

One place, built from :class:`common.naming.Names`, so the owner of Herald's Redis schema can
take these over whole. Nothing else builds a telemetry key string.

* ``{prefix}:replica:{service}:{replica}`` — STRING, the replica's latest stats snapshot
  (JSON), written every second with a short TTL: a dead replica disappears by itself;
* ``{prefix}:replicas`` — ZSET ``service|replica`` scored by the time of its last snapshot
  (ms), so a reader finds the live ones without ``SCAN``;
* ``{prefix}:presence:{replica}`` — HASH ``tenant|user`` → open connections on that gateway
  replica (bounded by its ``MAX_CONNECTIONS``), with a short TTL refreshed every second;
* ``{prefix}:trace:{tG}:{eventId}`` — LIST of stage marks (JSON) of one event,
  ``TRACE_TTL_SECONDS``. ``G`` is the event's trace group, a stable hash of its id modulo
  :data:`TRACE_GROUPS`: a flush writes every event of one group in one script call (one
  slot), so tracing costs a few calls per flush rather than one per event.
"""

from __future__ import annotations

import zlib

from common.naming import Names

__all__ = ["TRACE_GROUPS", "presence_key", "presence_member", "replica_key", "replica_member",
           "replicas_index", "trace_group", "trace_key"]

TRACE_GROUPS = 16


def replica_key(names: Names, service: str, replica: str) -> str:
    return f"{names.prefix}:replica:{service}:{replica}"


def replica_member(service: str, replica: str) -> str:
    return f"{service}|{replica}"


def replicas_index(names: Names) -> str:
    return f"{names.prefix}:replicas"


def presence_key(names: Names, replica: str) -> str:
    return f"{names.prefix}:presence:{replica}"


def presence_member(tenant_id: str, user_id: str) -> str:
    return f"{tenant_id}|{user_id}"


def trace_group(event_id: str) -> int:
    return zlib.crc32(event_id.encode()) % TRACE_GROUPS


def trace_key(names: Names, event_id: str) -> str:
    """The hash tag ``{tG}`` puts the events of one trace group on one Cluster slot (ids
    cannot hold braces)."""
    return f"{names.prefix}:trace:{{t{trace_group(event_id)}}}:{event_id}"
