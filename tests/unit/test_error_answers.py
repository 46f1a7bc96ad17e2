"""The fast lane (producer/ingest/fastlane.py) answers its errors exactly as the rest of the API
does.

The ingest routes bypass Starlette, so their 405, 413 and 500 are written by the fast lane
itself; a client must not be able to tell which side answered. Each case sends the same
mistake to a fast-lane path and to a Starlette path wired with the producer's own exception
handlers, and compares status, content type, the JSON body and the headers that matter.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from producer.app import exception_handlers
from producer.errors import BodyTooLarge, error_response
from producer.ingest.fastlane import Answer, FastLane

pytestmark = pytest.mark.unit

LIMIT = 64


async def lane_fails(body: bytes, scope: Scope) -> Answer:
    raise RuntimeError("a bug in an ingest handler")


async def lane_ok(body: bytes, scope: Scope) -> Answer:
    return 202, {"size": len(body)}, None


async def route_fails(request: Request) -> Response:
    raise RuntimeError("a bug in a read handler")


async def route_too_large(request: Request) -> Response:
    return error_response(BodyTooLarge(LIMIT))


def client() -> httpx.AsyncClient:
    inner = Starlette(
        routes=[Route("/boom", route_fails, methods=["POST"]),
                Route("/big", route_too_large, methods=["POST"])],
        exception_handlers=exception_handlers(),
    )
    lane = FastLane(inner, {"/lane/boom": lane_fails, "/lane/ok": lane_ok}, LIMIT)
    transport = httpx.ASGITransport(app=lane, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://herald.test")


def shape(answer: httpx.Response) -> dict[str, Any]:
    return {
        "status": answer.status_code,
        "type": answer.headers.get("content-type"),
        "body": answer.json(),
        "allow": answer.headers.get("allow") is not None,
    }


async def test_500_from_the_fast_lane_equals_the_apis() -> None:
    async with client() as http:
        lane = await http.post("/lane/boom", content=b"{}")
        rest = await http.post("/boom", content=b"{}")
    assert lane.status_code == 500
    assert shape(lane) == shape(rest)
    assert "a bug" not in lane.text  # nothing of the exception leaks


async def test_405_from_the_fast_lane_equals_the_apis() -> None:
    async with client() as http:
        lane = await http.get("/lane/ok")
        rest = await http.get("/boom")
    assert lane.status_code == 405
    assert lane.headers["allow"] == "POST"
    assert lane.json()["error"] == "method_not_allowed"
    assert shape(lane) == shape(rest)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_413_from_the_fast_lane_equals_the_apis(declared: bool) -> None:
    big = b"x" * (LIMIT + 1)

    async def chunks() -> Any:
        yield big[:LIMIT]
        yield big[LIMIT:]

    async with client() as http:
        lane = await (http.post("/lane/ok", content=big) if declared
                      else http.post("/lane/ok", content=chunks()))
        rest = await http.post("/big", content=b"{}")
        fits = await http.post("/lane/ok", content=b"x" * LIMIT)
    assert lane.status_code == 413
    assert shape(lane) == shape(rest)
    assert (fits.status_code, fits.json()) == (202, {"size": LIMIT})
