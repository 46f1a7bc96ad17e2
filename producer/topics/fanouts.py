"""``GET`` and ``DELETE /v1/fanouts/{eventId}``: a topic event's fan-out, its progress and its
cancel (issue 20; the consumer does the fan-out, :mod:`consumer.fanout`).

Who may call: a tenant's key with ``admin`` or ``events:write`` (who may send the event may
follow and stop it), for its own tenant's fan-outs only (``?tenantId=`` naming another is
``403``); or the operator key (``ADMIN_API_KEY``, the console's) naming the tenant with
``?tenantId=``, checked by :func:`producer.tenant_admin.admin_tenant` (required; an unknown
tenant ``404``). Anything else 401/403; a malformed ``tenantId`` ``422``.

* ``GET``: ``{"eventId", "tenantId", "topic", "state", "startedAt", "finishedAt", "pages",
  "recipients", "made", "muted", "held", "duplicate", "failed"}`` — ``state`` ``running``,
  ``done`` or ``cancelled``; counts are per page recorded, each page once (see
  :class:`FanoutOut`). ``404`` when the tenant has no fan-out of that event (never a topic
  event, not taken yet, or older than ``DEDUP_TTL_SECONDS``).
* ``DELETE``: cancels a running fan-out — chunks taken afterwards make nothing and publish no
  successor; the page being made when it lands still completes. Answers as ``GET``
  (``state: "cancelled"``); again on a cancelled one: the same (idempotent); on one that is
  ``done``: ``409 conflict``.

Redis not answering is ``503 dependency_unavailable`` naming it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from common.buffer.fanout import FanoutLedger, FanoutRecord
from common.buffer.keys import BufferKeys
from common.millis import from_ms, to_ms
from common.models import ID_RULE, is_id, utc_now
from common.tenancy import ADMIN, EVENTS_WRITE
from producer.door import Door, credential, forbidden
from producer.errors import HttpError, bad_field, dependency_unavailable, json_response
from producer.routing import ID_SCHEMA, KEY_SECURITY, Declared, answer, answers, by_method, param
from producer.store_holder import StoreHolder
from producer.tenant_admin import admin_tenant

__all__ = ["FanoutOut", "fanout_json", "fanout_routes"]


class FanoutOut(BaseModel):
    """A topic event's fan-out."""

    eventId: str
    tenantId: str
    topic: str = Field(description='The topic, or `"*"` (every user the tenant has).')
    state: str = Field(description="`running`, `done` (its last page made) or `cancelled`.")
    startedAt: datetime = Field(description="When the consumer took the event: only "
                                "subscriptions made at or before it are reached.")
    finishedAt: datetime | None = None
    pages: int = Field(description="Pages (chunks) of the audience made so far.")
    recipients: int = Field(description="Users reached so far (the actor left out).")
    made: int = Field(description="Notifications made (buffered or joined to a digest).")
    muted: int = Field(description="Stopped by the recipient's preference (or erased).")
    held: int = Field(description="Held for the recipient's quiet hours.")
    duplicate: int = Field(description="Made before (the same event reached them "
                           "directly, or a redelivered chunk).")
    failed: int = Field(description="Dead-lettered (a template failing on them, an unknown "
                        "type, a semantic duplicate).")


def _stamp(ms: int) -> str:
    return from_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fanout_json(record: FanoutRecord) -> dict[str, Any]:
    return {"eventId": record.event_id, "tenantId": record.tenant_id, "topic": record.topic,
            "state": record.state, "startedAt": _stamp(record.started_ms),
            "finishedAt": _stamp(record.finished_ms) if record.finished_ms else None,
            **record.counts}


def _event_id(request: Request) -> str:
    value: str = request.path_params["eventId"]
    if not is_id(value):
        raise HttpError(422, "invalid_request", "eventId is not a valid id",
                        [{"field": "eventId", "message": ID_RULE}])
    return value


def _not_found(event_id: str) -> HttpError:
    return HttpError(404, "not_found", f"no fan-out of event {event_id!r} for this tenant")


def fanout_routes(redis: Redis, keys: BufferKeys, door: Door,
                  holder: StoreHolder) -> list[Declared]:
    ledger = FanoutLedger(redis, keys)
    operator = admin_tenant(door, holder)

    async def tenant_of(request: Request) -> str:
        key = credential(request.scope["headers"])
        if key is not None and door.is_admin_key(key):
            return await operator(request)  # the operator key names the tenant
        named = request.query_params.get("tenantId")
        if named is not None and not is_id(named):
            raise bad_field("tenantId", ID_RULE)
        principal = await door.authenticate(key)
        if not principal.scopes & {ADMIN, EVENTS_WRITE}:
            raise forbidden("this key lacks the scope 'admin' or 'events:write'")
        return principal.tenant_for(named)

    async def read(request: Request) -> Response:
        tenant, event_id = await tenant_of(request), _event_id(request)
        try:
            record = await ledger.get(tenant, event_id)
        except (RedisError, OSError):
            raise dependency_unavailable("redis") from None
        if record is None:
            raise _not_found(event_id)
        return json_response(fanout_json(record))

    async def cancel(request: Request) -> Response:
        tenant, event_id = await tenant_of(request), _event_id(request)
        try:
            state = await ledger.cancel(tenant, event_id, to_ms(utc_now()))
            record = await ledger.get(tenant, event_id)
        except (RedisError, OSError):
            raise dependency_unavailable("redis") from None
        if state is None or record is None:
            raise _not_found(event_id)
        if state == "done":
            raise HttpError(409, "conflict", "this fan-out is over: every page was made")
        return json_response(fanout_json(record))

    path_param = [param("eventId", "path", "The topic event's `eventId`."),
                  param("tenantId", "query", "The tenant: required with the operator key; "
                                             "a tenant key's own (another is 403).",
                        ID_SCHEMA)]
    who = ("A tenant key with `admin` or `events:write`, or the operator key with "
           "`?tenantId=`. ")
    common: dict[str, Any] = {"tags": ["topics"], "security": KEY_SECURITY,
                              "parameters": path_param}
    return [Declared("/v1/fanouts/{eventId}", {
        "get": {**common, "operationId": "getFanout",
                "summary": "A topic event's fan-out: state and progress",
                "description": who + "Counts grow page "
                               "by page; each page is counted once however often its chunk "
                               "is delivered.",
                "responses": answers({200: answer("The fan-out.", FanoutOut)},
                                     401, 403, 404, 422, 503)},
        "delete": {**common, "operationId": "cancelFanout",
                   "summary": "Cancel a running fan-out",
                   "description": who + "Chunks taken afterwards make nothing and publish no "
                                  "successor; the page being made completes. Idempotent; "
                                  "409 on a fan-out that is over.",
                   "responses": answers({200: answer("The fan-out, cancelled.", FanoutOut)},
                                        401, 403, 404, 409, 422, 503)},
    }, endpoint=by_method({"GET": read, "DELETE": cancel}))]
