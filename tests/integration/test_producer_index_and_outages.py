"""The producer's ``GET /`` and its read API while Redis is away (503 naming it, not 500)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import REDIS_URL
from tests.support.processes import Service
from tests.support.proxy import TcpProxy
from tests.support.timing import eventually, scaled
from tests.support.ws import token

pytestmark = pytest.mark.integration

API_KEY = "backend-key-0123456789"


async def test_the_root_points_to_the_demo_docs_health_and_readme(
    services: Callable[..., Service],
) -> None:
    producer = await services("producer").start()
    async with httpx.AsyncClient(base_url=producer.url) as client:
        as_json = await client.get("/")
        as_html = await client.get("/", headers={"Accept": "text/html,*/*;q=0.8"})
    assert as_json.status_code == 200
    body = as_json.json()
    assert {"demo": "/demo", "docs": "/docs", "health": "/healthz"}.items() <= \
        body["links"].items()
    assert "README" in body["readme"]
    assert as_html.status_code == 200
    assert as_html.headers["content-type"].startswith("text/html")
    assert 'href="/demo"' in as_html.text
    assert "README" in as_html.text


async def test_the_read_api_answers_503_naming_redis_while_it_is_away(
    services: Callable[..., Service],
) -> None:
    redis_port = int(REDIS_URL.rsplit(":", 1)[1].split("/")[0])
    proxy = await TcpProxy("127.0.0.1", redis_port).start()
    try:
        producer = await services("producer", READ_API_KEYS=API_KEY,
                                  REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0").start()
        calls = [
            ("GET", "/v1/users/bob/notifications", {"Authorization": f"Bearer {API_KEY}"}),
            ("GET", "/v1/users/bob/notifications/unread-count",
             {"Authorization": f"Bearer {token('bob')}"}),
            ("POST", "/v1/notifications/n1/read", {"Authorization": f"Bearer {token('bob')}"}),
        ]
        async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(15)) as client:
            up = await client.get(calls[0][1], headers=calls[0][2])
            assert up.status_code == 200
            await proxy.cut()
            for method, path, headers in calls:
                answer = await client.request(method, path, headers=headers)
                assert answer.status_code == 503, (path, answer.text)
                body = answer.json()
                assert body["error"] == "dependency_unavailable"
                assert "redis" in body["message"]
                assert body["details"] == [{"dependency": "redis",
                                            "message": "redis did not answer"}]
                assert int(answer.headers["retry-after"]) >= 1
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["redis"].startswith("down")
            await proxy.restore()

            async def status() -> int:
                return (await client.get(calls[0][1], headers=calls[0][2])).status_code

            await eventually(status, lambda s: s == 200, timeout=10, interval=0.2)
    finally:
        await proxy.close()
