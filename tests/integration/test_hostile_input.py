"""Hostile clients against real processes: every reported input gets its documented answer.

One id rule everywhere (JWT claims, path and query ids), strict JSON (a duplicated key is a
400), ``occurredAt`` an ISO 8601 string near now, small error answers, and JSON even for the
requests uvicorn's HTTP parser refuses itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from aio_pika.abc import AbstractChannel

from common.naming import Names
from tests.support.amqp import queue_depth
from tests.support.processes import Service
from tests.support.timing import scaled
from tests.support.ws import SECRET, Client, token

pytestmark = pytest.mark.integration

LIKE = {"type": "LIKE", "actorId": "alice", "targetId": "bob", "postId": "p1"}
API_KEY = "backend-key-0123456789"


@pytest.fixture
async def producer(services: Callable[..., Service]) -> Service:
    return await services("producer", READ_API_KEYS=API_KEY,
                          OCCURRED_AT_MAX_AGE_SECONDS="3600",
                          OCCURRED_AT_MAX_SKEW_SECONDS="60").start()


async def post(service: Service, path: str, body: object | bytes) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    async with httpx.AsyncClient(base_url=service.url, timeout=scaled(30),
                                 headers=service.headers) as client:
        return await client.post(path, content=content)


def at(seconds_from_now: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds_from_now)).isoformat()


@dataclass(frozen=True)
class FromNow:
    """An ``occurredAt`` this far from the moment the test runs (not from collection: a long
    suite runs a test many minutes after its parameters were made)."""

    seconds: float


def at_run_time(body: object) -> object:
    if isinstance(body, dict):
        return {k: at(v.seconds) if isinstance(v, FromNow) else v for k, v in body.items()}
    return body


@pytest.mark.parametrize(
    ("path", "body", "status", "error", "field"),
    [
        # 4. a duplicated key, at any depth, on every ingest route
        ("/v1/events", b'{"type":"LIKE","actorId":"alice","actorId":"mallory","targetId":"bob",'
         b'"postId":"p1"}', 400, "invalid_json", "actorId"),
        ("/v1/events/batch", b'{"events":[{"type":"LIKE","actorId":"a","targetId":"b",'
         b'"postId":"p1","postId":"p2"}]}', 400, "invalid_json", "events.0.postId"),
        ("/like", b'{"actorId":"a","targetId":"b","postId":"p1","targetId":"c"}', 400,
         "invalid_json", "targetId"),
        ("/comment", b'{"actorId":"a","targetId":"b","postId":"p1","text":"x","text":"y"}', 400,
         "invalid_json", "text"),
        ("/follow", b'{"actorId":"a","actorId":"a","targetId":"b"}', 400, "invalid_json",
         "actorId"),
        # 4. occurredAt: an ISO 8601 string within the window (here 1 h back, 60 s ahead)
        ("/v1/events", {**LIKE, "occurredAt": 1764582000}, 422, "invalid_event", "occurredAt"),
        ("/v1/events", {**LIKE, "occurredAt": "1764582000"}, 422, "invalid_event",
         "occurredAt"),
        ("/v1/events", {**LIKE, "occurredAt": "0001-01-01T00:00:00Z"}, 422, "invalid_event",
         "occurredAt"),
        ("/v1/events", {**LIKE, "occurredAt": "9999-12-31T23:59:59Z"}, 422, "invalid_event",
         "occurredAt"),
        ("/v1/events", {**LIKE, "occurredAt": "9999-12-31T23:59:59-01:00"}, 422,
         "invalid_event", "occurredAt"),
        ("/v1/events", {**LIKE, "occurredAt": FromNow(-7200)}, 422, "invalid_event", "occurredAt"),
        ("/v1/events", {**LIKE, "occurredAt": FromNow(600)}, 422, "invalid_event", "occurredAt"),
        ("/like", {"actorId": "a", "targetId": "b", "postId": "p1", "occurredAt": 1}, 422,
         "invalid_event", "occurredAt"),
        ("/follow", {"actorId": "a", "targetId": "b", "occurredAt": FromNow(0)}, 422,
         "invalid_event", "occurredAt"),
    ],
)
async def test_reported_bodies_get_their_documented_answer(
    producer: Service, channel: AbstractChannel, names: Names,
    path: str, body: object, status: int, error: str, field: str,
) -> None:
    answer = await post(producer, path, at_run_time(body))
    assert answer.status_code == status, answer.text
    payload = answer.json()
    assert payload["error"] == error and payload["message"]
    assert field in [d["field"] for d in payload["details"]]
    assert await queue_depth(channel, names.notify_queue) == 0


async def test_occurred_at_in_a_batch_is_judged_per_item(producer: Service) -> None:
    events = [{**LIKE, "occurredAt": at(-60)}, {**LIKE, "occurredAt": 1764582000},
              {**LIKE, "occurredAt": "0001-01-01T00:00:00Z"}]
    answer = await post(producer, "/v1/events/batch", {"events": events})
    assert answer.status_code == 207, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [202, 422, 422]
    assert results[1]["details"][0]["field"] == "occurredAt"
    assert results[2]["details"][0]["field"] == "occurredAt"


async def test_90000_unknown_keys_draw_a_small_answer(producer: Service) -> None:
    body = orjson.dumps({f"k{i:05}": 1 for i in range(90_000)})
    assert 800_000 < len(body) <= 1_048_576  # under MAX_BODY_BYTES' default
    for path in ("/v1/events", "/like", "/v1/events/batch"):
        answer = await post(producer, path, body)
        assert answer.status_code == 422, path
        assert len(answer.content) < 4096, (path, len(answer.content))
        payload = answer.json()
        assert len(payload["details"]) == 20
        assert payload["detailsOmitted"] == 90_000 - 20


async def test_a_batch_of_bad_items_draws_a_bounded_answer(producer: Service) -> None:
    items = [{f"k{i}": 1 for i in range(30)} for _ in range(500)]
    answer = await post(producer, "/v1/events/batch", {"events": items})
    assert answer.status_code == 207
    results = answer.json()["results"]
    assert sum(len(r["details"]) for r in results) == 100
    assert len(answer.content) < 64 * 1024


async def raw_request(service: Service, request: bytes) -> bytes:
    """``request`` as it is, on a fresh connection; all that comes back until the server
    closes."""
    url = urlsplit(service.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), scaled(10))
    finally:
        writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
async def test_requests_the_http_parser_refuses_get_a_json_400(
    producer: Service, request_bytes: bytes
) -> None:
    raw = await raw_request(producer, request_bytes)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), raw[:200]
    assert b"content-type: application/json" in head.lower()
    assert orjson.loads(body)["error"] == "invalid_http"


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


@pytest.mark.parametrize(
    ("url", "credential", "field"),
    [
        ("/v1/users/bob/notifications?tenantId=%00", API_KEY, "tenantId"),
        ("/v1/users/bob/notifications?tenantId=%7Bx%7D", API_KEY, "tenantId"),
        ("/v1/users/bob/notifications?tenantId=a%0A", "token:bob", "tenantId"),
        ("/v1/users/bob/notifications/unread-count?tenantId=%7B%7D", API_KEY, "tenantId"),
        ("/v1/users/A%0A/notifications", "token:A", "userId"),  # was a 403
        ("/v1/users/A%0A/notifications/unread-count", "token:A", "userId"),
        ("/v1/notifications/n1%0A/read", "token:A", "notificationId"),
        ("/v1/notifications/n1/read?userId=A%0A", API_KEY, "userId"),
    ],
)
async def test_read_api_ids_obey_the_body_rule(
    producer: Service, url: str, credential: str, field: str
) -> None:
    if credential.startswith("token:"):
        credential = token(credential.removeprefix("token:"))
    method = "POST" if url.startswith("/v1/notifications/") else "GET"
    async with httpx.AsyncClient(base_url=producer.url) as client:
        answer = await client.request(method, url, headers=bearer(credential))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert [d["field"] for d in answer.json()["details"]] == [field]


@pytest.mark.parametrize("claims", [{"sub": "bob\n"}, {"exp": "9999999999"}, {"tid": "t\n"}])
async def test_read_api_refuses_tokens_the_gateway_refuses(
    producer: Service, claims: dict[str, object]
) -> None:
    import jwt

    body = {"sub": "bob", "exp": int(time.time()) + 300, **claims}
    signed = jwt.encode(body, SECRET, algorithm="HS256")
    async with httpx.AsyncClient(base_url=producer.url) as client:
        answer = await client.get("/v1/users/bob/notifications", headers=bearer(signed))
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("claims", "error"),
    [({"sub": "bob\n"}, "AUTH_INVALID"), ({"exp": "9999999999"}, "AUTH_INVALID"),
     ({"exp": "1"}, "AUTH_INVALID"), ({"nbf": "0"}, "AUTH_INVALID")],
)
async def test_gateway_refuses_a_signed_id_with_a_newline_and_string_times(
    services: Callable[..., Service], claims: dict[str, object], error: str
) -> None:
    import jwt

    gateway = await services("ws_gateway", JWT_SECRET=SECRET).start()
    body = {"sub": "bob", "exp": int(time.time()) + 300, **claims}
    client = await Client.connect(gateway.url)
    await client.send({"type": "AUTH", "token": jwt.encode(body, SECRET, algorithm="HS256")})
    close_code, frames = await client.closed()
    assert close_code == 4003
    assert frames[0]["type"] == "ERROR" and frames[0]["code"] == error


async def test_gateway_refuses_a_frame_with_a_duplicated_key(
    services: Callable[..., Service],
) -> None:
    gateway = await services("ws_gateway", JWT_SECRET=SECRET).start()
    client = await Client.connect(gateway.url)
    await client.ws.send('{"type":"AUTH","token":"x","token":"' + token("bob") + '"}')
    close_code, frames = await client.closed()
    assert close_code == 4001
    assert frames[0]["code"] == "AUTH_REQUIRED" and "twice" in frames[0]["message"]
    authed, _ = await Client.authed(gateway.url, "bob")
    await authed.ws.send('{"type":"ACK","notificationId":"n1","notificationId":"n2"}')
    answer = await authed.recv()
    assert answer["type"] == "ERROR" and answer["code"] == "BAD_FRAME"
    assert "notificationId" in answer["message"]
    await authed.close()
