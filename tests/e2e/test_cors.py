"""CORS as a browser meets it, against a real producer: preflight and simple requests from
an allowed origin and a refused one, on the fast lane's ingest routes and on Starlette's."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.support.processes import Service
from tests.support.ws import token

pytestmark = pytest.mark.e2e

ALLOWED = "https://app.example"
REFUSED = "https://evil.example"
LIKE = {"type": "LIKE", "actorId": "alice", "targetId": "bob", "postId": "p1"}


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, x-api-key, content-type"}


@pytest.fixture
async def producer(services: Callable[..., Service]) -> Service:
    return await services("producer",
                          CORS_ALLOWED_ORIGINS=f"{ALLOWED}, http://localhost:3000").start()


@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/batch", "/like"])
async def test_a_preflight_on_an_ingest_route_is_answered_for_an_allowed_origin_only(
    producer: Service, path: str
) -> None:
    async with httpx.AsyncClient(base_url=producer.url) as client:
        ok = await client.options(path, headers=preflight(ALLOWED))
        refused = await client.options(path, headers=preflight(REFUSED))
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in ok.headers["access-control-allow-methods"]
    allowed_headers = ok.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "x-api-key", "content-type"):
        assert header in allowed_headers
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


async def test_a_preflight_on_the_read_api_is_answered(producer: Service) -> None:
    async with httpx.AsyncClient(base_url=producer.url) as client:
        ok = await client.options("/v1/users/bob/notifications",
                                  headers=preflight("http://localhost:3000", "GET"))
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "http://localhost:3000"


async def test_simple_requests_expose_the_headers_a_browser_app_needs_to_allowed_origins(
    producer: Service,
) -> None:
    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers) as client:
        ok = await client.post("/v1/events", json=LIKE, headers={"Origin": ALLOWED})
        refused = await client.post("/v1/events", json=LIKE, headers={"Origin": REFUSED})
        read = await client.get("/v1/users/bob/notifications",
                                headers={"Origin": ALLOWED,
                                         "Authorization": f"Bearer {token('bob')}"})
    assert ok.status_code == 202
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    exposed = {h.strip().lower() for h in ok.headers["access-control-expose-headers"].split(",")}
    assert {"retry-after", "ratelimit", "ratelimit-policy"} <= exposed
    assert "origin" in ok.headers.get("vary", "").lower()
    # A refused origin gets the normal answer; without the header the browser hides it.
    assert refused.status_code == 202
    assert "access-control-allow-origin" not in refused.headers
    assert read.status_code == 200 and read.headers["access-control-allow-origin"] == ALLOWED


async def test_without_the_setting_there_is_no_cors(services: Callable[..., Service]) -> None:
    producer = await services("producer").start()
    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers) as client:
        answer = await client.options("/v1/events", headers=preflight(ALLOWED))
        simple = await client.post("/v1/events", json=LIKE, headers={"Origin": ALLOWED})
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
    assert "access-control-allow-origin" not in answer.headers
    assert simple.status_code == 202 and "access-control-allow-origin" not in simple.headers
