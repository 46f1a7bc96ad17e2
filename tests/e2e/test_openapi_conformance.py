"""The live producer answers only what its OpenAPI document says, and /docs works offline.

schemathesis (its CLI, as a developer would run it) generates requests for every documented
operation, valid and invalid, against a real producer on the real RabbitMQ and Redis, and
fails on any 5xx and any answer outside the document: status code, content type, headers,
body schema, a method the path does not take, auth the route ignores. Bounded: a fixed
number of examples per operation, a fixed seed, one worker, and a time limit on the run.

``positive_data_acceptance`` is left out: some rules of an event span fields (the actor is
not a recipient; exactly one of ``targetId``/``targetIds``; ``postId`` for a LIKE), which
JSON Schema does not express, so a schema-valid body can rightly get the documented 422.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from redis.asyncio import Redis
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from common.naming import Names
from tests.support.events import buffered
from tests.support.processes import Service
from tests.support.proxy import TcpProxy
from tests.support.timing import eventually, scaled

pytestmark = pytest.mark.e2e

API_KEY = "backend-key-0123456789"
MAX_EXAMPLES = 25
SEED = 20261201
RUN_LIMIT_SECONDS = 240.0


@pytest.fixture
async def producer(services: Callable[..., Service]) -> Service:
    return await services("producer", READ_API_KEYS=API_KEY, MAX_BATCH_EVENTS="20",
                          CORS_ALLOWED_ORIGINS="https://app.example").start()


async def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    producer: Service, tmp_path: Path
) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{producer.url}/openapi.json",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
        "--phases", "examples,coverage,fuzzing", "--generation-database", "none",
        "--request-timeout", str(scaled(10)), "--no-color",
        "--header", f"Authorization: Bearer {producer.headers['X-API-Key']}",
    ]
    try:
        run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                             timeout=scaled(RUN_LIMIT_SECONDS), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        raise AssertionError(f"schemathesis ran over {scaled(RUN_LIMIT_SECONDS)} s\n{out}") \
            from None
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"schemathesis found problems:\n{report[-20000:]}"
    tested = re.search(r"Tested:\s+(\d+)", report)
    assert tested, report[-3000:]
    assert int(tested.group(1)) >= 14, report[-3000:]


async def test_notifications_pending_and_read_match_the_document(
    services: Callable[..., Service], producer: Service, redis: Redis, names: Names
) -> None:
    """The read API's bodies with real notifications in them (random user ids rarely have
    any), checked by schemathesis's checks. A mark-read reaches the store through the persist
    stream, so a persister runs too."""
    await services("consumer").start()
    await services("persister").start()
    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers) as client:
        answer = await client.post("/v1/events", json={
            "type": "COMMENT", "actorId": "alice", "targetId": "bob", "postId": "p1",
            "commentId": "c1", "text": "nice"})
        assert answer.status_code == 202
    [nid] = await eventually(lambda: buffered(redis, names, "bob"), lambda f: len(f) == 1)

    schema = schemathesis.openapi.from_url(f"{producer.url}/openapi.json")
    headers = {"Authorization": f"Bearer {API_KEY}"}
    listing = schema["/v1/users/{userId}/notifications"]["GET"]
    mark = schema["/v1/notifications/{notificationId}/read"]["POST"]

    pending = listing.Case(path_parameters={"userId": "bob"}, headers=headers)
    first = pending.call_and_validate(base_url=producer.url)
    assert [n["status"] for n in first.json()["notifications"]] == ["pending"]
    read = mark.Case(path_parameters={"notificationId": nid}, query={"userId": "bob"},
                     headers=headers)
    assert read.call_and_validate(base_url=producer.url).json()["read"] is True

    async def listed() -> list[dict[str, object]]:
        notes: list[dict[str, object]] = pending.call_and_validate(
            base_url=producer.url).json()["notifications"]
        return notes

    after = await eventually(listed, lambda notes: len(notes) == 1
                             and notes[0]["readAt"] is not None)
    assert after[0]["status"] == "acked"


CONFORMANCE = [status_code_conformance, content_type_conformance, response_headers_conformance,
               response_schema_conformance]


async def test_answers_while_the_broker_is_away_match_the_document(
    services: Callable[..., Service],
) -> None:
    """The 503s (single, batch, seed, /readyz): documented status, headers and bodies."""
    proxy = await TcpProxy("127.0.0.1", 5672).start()
    try:
        producer = await services(
            "producer", RABBITMQ_URL=f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
            PUBLISH_TIMEOUT_SECONDS="1").start()
        await proxy.cut()
        schema = schemathesis.openapi.from_url(f"{producer.url}/openapi.json")
        like: dict[str, Any] = {"type": "LIKE", "actorId": "alice", "targetId": "bob",
                                "postId": "p1"}
        key = producer.headers
        cases = [
            schema["/v1/events"]["POST"].Case(body={**like, "eventId": "e-503"}, headers=key),
            schema["/v1/events/batch"]["POST"].Case(body={"events": [like, like]},
                                                    headers=key),
            schema["/v1/events/batch"]["POST"].Case(body={"events": [like, {"x": 1}]},
                                                    headers=key),
            schema["/like"]["POST"].Case(body={"actorId": "a", "targetId": "b",
                                               "postId": "p1"}, headers=key),
            schema["/readyz"]["GET"].Case(),
        ]
        statuses = []
        for case in cases:
            answer = case.call_and_validate(base_url=producer.url, checks=CONFORMANCE,
                                            timeout=scaled(10))
            statuses.append(answer.status_code)
        assert statuses == [503] * 5  # a batch with nothing confirmed is 503, refusals or not
    finally:
        await proxy.close()


async def test_the_docs_page_loads_only_what_the_producer_serves(producer: Service) -> None:
    """Offline: every script, style and the document come from the producer itself."""
    async with httpx.AsyncClient(base_url=producer.url + "/") as client:
        page = await client.get("docs")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert "http://" not in page.text
        assert "https://" not in page.text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert "docs/assets/swagger-ui-bundle.js" in assets
        for asset in [*assets, "openapi.json"]:
            answer = await client.get(asset)
            assert answer.status_code == 200, asset
            assert len(answer.content) > 100, asset
        document = (await client.get("openapi.json")).json()
        assert document["openapi"] == "3.1.0"
