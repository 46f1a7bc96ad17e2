"""A tenant's topics: who is subscribed to what (``/v1/topics/...``, ``/v1/users/{userId}/topics``).

An event with ``"topic": "followers:alice"`` reaches the topic's subscribers when the
consumer expands it (:class:`common.models.Event`); these routes keep the subscriptions
(:class:`common.store.base.Store`, durable in SQLite or MongoDB). Who may call:
:func:`producer.tenant_admin.admin_tenant` (a tenant key with ``admin``, or the operator key
with ``?tenantId=``).

* ``PUT /v1/topics/{topic}/subscribers/{userId}``: subscribe; ``201`` when new, ``200`` when
  the user already was (the subscription keeps its first time: the fan-out's snapshot rule
  reads it).
* ``DELETE /v1/topics/{topic}/subscribers/{userId}``: unsubscribe; ``204`` whether or not the
  user was subscribed (a backend replaying its follower changes needs no special case).
* ``POST /v1/topics/{topic}/subscribers`` ``{"add": [...], "remove": [...]}``: at most
  :data:`~producer.schemas.MAX_SUBSCRIBERS_CHANGE` ids in all, no id in both
  (:class:`~producer.schemas.SubscribersIn`); answers how many were added and removed.
  Adds are written before removes; each is one store write.
* ``GET /v1/topics/{topic}/subscribers?cursor=&limit=``: a page by ascending user id
  (``limit`` 1 to :data:`MAX_LIMIT`, default :data:`DEFAULT_LIMIT`), and the cursor of the
  next page (``null`` on the last). The cursor is opaque (the page's last user id, base64).
* ``GET /v1/users/{userId}/topics``: the user's topics, by name.

Herald has no user registry: any valid id may be subscribed, and subscribing makes the user
one the tenant *has* (its known users, what a broadcast ``"*"`` reaches): the known-user
entry is written first, so a subscriber is always known. ``*`` is not a topic one subscribes
to (``422``: it already is every user). A topic name obeys
:data:`common.models.TOPIC_PATTERN`, a user id :data:`common.models.ID_PATTERN`; anything
else is ``422`` naming the field. Bodies are bounded (``413``); the store not answering is
``503`` naming it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from common.models import (
    BROADCAST,
    ID_RULE,
    TOPIC_PATTERN,
    TOPIC_RULE,
    is_id,
    is_topic_name,
    utc_now,
)
from common.store.base import Store
from producer import api_shapes as shapes
from producer.bodies import read_bounded, validate_body
from producer.config_access import store_guarded
from producer.errors import bad_field, json_response, parse_json
from producer.routing import (
    ID_SCHEMA,
    KEY_SECURITY,
    Declared,
    Operation,
    answer,
    answers,
    by_method,
    param,
)
from producer.routing import body as request_body
from producer.schemas import MAX_SUBSCRIBERS_CHANGE, SubscribersIn
from producer.store_holder import StoreHolder
from producer.tenant_admin import TenantOf

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_SUBSCRIBERS_BODY_BYTES", "decode_cursor",
           "encode_cursor", "topic_routes"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SUBSCRIBERS_BODY_BYTES = MAX_SUBSCRIBERS_CHANGE * 131 + 64
"""10,000 ids of up to 128 characters, quoted, with their commas (and ``MAX_BODY_BYTES``
bounds it too: 1 MiB by default, 10,000 ids of about 100 characters)."""


def _topic(request: Request) -> str:
    value: str = request.path_params["topic"]
    if value == BROADCAST:
        raise bad_field("topic", f"{BROADCAST!r} is every user the tenant has: nobody "
                                 "subscribes to it")
    if not is_topic_name(value):
        raise bad_field("topic", TOPIC_RULE)
    return value


def _user_id(request: Request) -> str:
    value: str = request.path_params["userId"]
    if not is_id(value):
        raise bad_field("userId", ID_RULE)
    return value


def encode_cursor(last_user: str) -> str:
    return base64.urlsafe_b64encode(last_user.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The user id a cursor of :func:`encode_cursor` holds; ``422`` naming ``cursor`` for
    anything else."""
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        value = ""
    if len(cursor) > 256 or not is_id(value):
        raise bad_field("cursor", "not a cursor this API made")
    return value


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad_field("limit", f"an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def topic_routes(holder: StoreHolder, tenant_of: TenantOf, max_body_bytes: int
                 ) -> list[Declared]:
    def store() -> Store:
        return holder.store

    async def subscribe(tenant: str, topic: str, users: list[str]) -> int:
        now = utc_now()
        await store().add_known_users(tenant, users, now)  # first: a subscriber is known
        return await store().subscribe(tenant, topic, users, now)

    async def put_one(request: Request) -> Response:
        tenant = await tenant_of(request)
        topic, user = _topic(request), _user_id(request)
        made = await subscribe(tenant, topic, [user])
        return json_response({"tenantId": tenant, "topic": topic, "userId": user,
                              "subscribed": True, "changed": made == 1}, 201 if made else 200)

    async def delete_one(request: Request) -> Response:
        tenant = await tenant_of(request)
        topic, user = _topic(request), _user_id(request)
        await store().unsubscribe(tenant, topic, [user])
        return Response(status_code=204)

    async def change_many(request: Request) -> Response:
        tenant = await tenant_of(request)
        topic = _topic(request)
        raw: Any = parse_json(await read_bounded(
            request, min(MAX_SUBSCRIBERS_BODY_BYTES, max_body_bytes)))
        asked = validate_body(SubscribersIn, raw, "invalid_request",
                              'the body must be {"add": [userId, ...], "remove": [userId, ...]}')
        added = await subscribe(tenant, topic, asked.add) if asked.add else 0
        removed = await store().unsubscribe(tenant, topic, asked.remove) if asked.remove else 0
        return json_response({"tenantId": tenant, "topic": topic, "added": added,
                              "removed": removed})

    async def list_page(request: Request) -> Response:
        tenant = await tenant_of(request)
        topic = _topic(request)
        limit = _limit(request)
        cursor = request.query_params.get("cursor")
        after = decode_cursor(cursor) if cursor else None
        # One more than asked: whether there is a next page, without an empty last one.
        found = await store().subscribers(tenant, topic, after=after, limit=limit + 1)
        page = found[:limit]
        following = encode_cursor(page[-1]) if len(found) > limit else None
        return json_response({"tenantId": tenant, "topic": topic, "subscribers": page,
                              "nextCursor": following})

    async def topics_of(request: Request) -> Response:
        tenant = await tenant_of(request)
        user = _user_id(request)
        return json_response({"tenantId": tenant, "userId": user,
                              "topics": await store().topics_of(tenant, user)})

    topic_param = param("topic", "path", "The topic's name (`followers:alice`); not `*`.",
                        {"type": "string", "pattern": TOPIC_PATTERN})
    user_param = param("userId", "path", "The user.")
    tenant_param = param("tenantId", "query", "The tenant: required with the operator key; "
                                              "a tenant key's own (another is 403).",
                         ID_SCHEMA)
    errors = (401, 403, 404, 422, 503)
    who = "A tenant key with `admin`, or the operator key with `?tenantId=`. "

    def op(operation_id: str, summary: str, success: dict[int, Operation], *more: int,
           parameters: list[Operation], description: str,
           request: Operation | None = None) -> Operation:
        operation: Operation = {"tags": ["topics"], "operationId": operation_id,
                                "summary": summary, "security": KEY_SECURITY,
                                "description": who + description,
                                "parameters": [*parameters, tenant_param],
                                "responses": answers(success, *errors, *more)}
        if request is not None:
            operation["requestBody"] = request
        return operation

    return [
        Declared("/v1/topics/{topic}/subscribers/{userId}", {
            "put": op("subscribe", "Subscribe a user to a topic",
                      {200: answer("Was subscribed already.", shapes.Subscription),
                       201: answer("Subscribed.", shapes.Subscription)},
                      parameters=[topic_param, user_param],
                      description="Any valid user id (Herald has no user registry); the user "
                                  "becomes one the tenant has (a broadcast reaches them)."),
            "delete": op("unsubscribe", "Unsubscribe a user from a topic",
                         {204: {"description": "Not subscribed (now, or already)."}},
                         parameters=[topic_param, user_param],
                         description="204 whether or not the user was subscribed."),
        }, endpoint=store_guarded(by_method({"PUT": put_one, "DELETE": delete_one}))),
        Declared("/v1/topics/{topic}/subscribers", {
            "get": op("listSubscribers", "A topic's subscribers, a page at a time",
                      {200: answer("A page, by ascending user id.", shapes.SubscriberPage)},
                      parameters=[topic_param,
                                  param("cursor", "query", "`nextCursor` of the page before.",
                                        {"type": "string", "maxLength": 256}),
                                  param("limit", "query", f"1 to {MAX_LIMIT} (default "
                                        f"{DEFAULT_LIMIT}).",
                                        {"type": "integer", "minimum": 1,
                                         "maximum": MAX_LIMIT})],
                      description="Pass `nextCursor` as `cursor` until it is null."),
            "post": op("changeSubscribers", "Subscribe and unsubscribe many users at once",
                       {200: answer("How many changed.", shapes.SubscriptionsChanged)},
                       400, 413, parameters=[topic_param],
                       description=f"At most {MAX_SUBSCRIBERS_CHANGE:,} ids in `add` and "
                                   "`remove` together; an id in both is 422.",
                       request=request_body(SubscribersIn, "Who to add and who to remove.",
                                            {"add": ["bob", "carol"], "remove": ["dave"]})),
        }, endpoint=store_guarded(by_method({"GET": list_page, "POST": change_many}))),
        Declared("/v1/users/{userId}/topics", {
            "get": op("listUserTopics", "The topics a user is subscribed to",
                      {200: answer("The topics, by name.", shapes.UserTopics)},
                      parameters=[user_param], description=""),
        }, endpoint=store_guarded(topics_of)),
    ]
