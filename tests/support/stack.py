"""The four services as real processes with the console on (an admin key), for the console's
API and browser tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.keys import ADMIN_KEY, headers, make_key
from tests.support.processes import Service
from tests.support.ws import SECRET

__all__ = ["ADMIN_KEY", "Stack", "start_stack"]


@dataclass
class Stack:
    producer: Service
    gateway: Service
    consumer: Service
    persister: Service
    key: str
    """A key of tenant ``default`` with every scope, for ingest."""

    def admin(self, key: str | None = ADMIN_KEY) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.producer.url, headers=headers, timeout=30)

    async def post(self, body: dict[str, Any]) -> str:
        async with httpx.AsyncClient(base_url=self.producer.url,
                                     headers=headers(self.key)) as client:
            answer = await client.post("/v1/events", json=body)
        assert answer.status_code == 202, answer.text
        event_id: str = answer.json()["eventId"]
        return event_id


async def start_stack(services: Callable[..., Service], tmp_path: Path,
                      **consumer_env: str) -> Stack:
    store_url = f"sqlite:///{tmp_path}/herald.db"
    common = {"JWT_SECRET": SECRET, "STORE_URL": store_url,
              "NOTIFICATION_TTL_SECONDS": "3600", "SEMANTIC_WINDOW_SECONDS": "0",
              "ADMIN_API_KEY": ADMIN_KEY}
    consumer, persister, gateway, producer = await asyncio.gather(
        services("consumer", **common, **consumer_env).start(),
        services("persister", **common).start(),
        services("ws_gateway", **common).start(),
        services("producer", **common).start(),
    )
    return Stack(producer, gateway, consumer, persister, await make_key(store_url))
