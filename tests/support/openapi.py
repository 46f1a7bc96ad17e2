"""The OpenAPI document as the producer serves it (``GET /openapi.json``).

The document is derived from the routes the app is built with (producer/openapi.py), so the
tests read it from an app: built, asked once, its lifespan never run (nothing connects).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.types import ASGIApp

from producer.app import create_app
from producer.settings import ProducerSettings

__all__ = ["served_document"]


def served_document(app: ASGIApp | None = None) -> dict[str, Any]:
    """``GET /openapi.json`` of ``app`` (default: a producer of default settings); call it
    outside an event loop."""
    asgi = app or create_app(ProducerSettings(jwt_secret="x" * 32))

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://producer") as client:
            return await client.get("/openapi.json")

    answer = asyncio.run(get())
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document
