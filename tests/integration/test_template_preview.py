"""``POST /v1/templates/preview`` on a real producer: renders for an admin, refuses hostile
templates with a reason, and the producer is unharmed by them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tests.support.keys import admin_headers, headers, make_key
from tests.support.processes import Service
from tests.support.timing import scaled

pytestmark = pytest.mark.integration

PATH = "/v1/templates/preview"
HOSTILE = [
    "{{ x.__class__.__mro__[1].__subclasses__() }}",
    '{{ "{0.__class__}".format(x) }}',
    "{% for i in range(10**9) %}x{% endfor %}",
    '{{ "x" * 10**8 }}',
    "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
]


@pytest.fixture
async def client(services: Callable[..., Service]) -> AsyncIterator[httpx.AsyncClient]:
    producer = await services("producer", MAX_BODY_BYTES="4096").start()
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
        yield client


async def test_a_tenant_admin_and_the_operator_get_the_rendered_text(
    client: httpx.AsyncClient, base_env: dict[str, str],
) -> None:
    admin = headers(await make_key(base_env["STORE_URL"], "acme", ("admin",)))
    body = {"template": "{{ actor }} liked your {{ what }}",
            "data": {"actor": "alice", "what": "post"}}
    for who in (admin, admin_headers()):
        answer = await client.post(PATH, json=body, headers=who)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"rendered": "alice liked your post"}


async def test_hostile_templates_are_refused_with_a_reason_and_the_producer_is_unharmed(
    client: httpx.AsyncClient,
) -> None:
    for template in HOSTILE:
        started = time.monotonic()
        answer = await client.post(PATH, json={"template": template, "data": {"x": "a"}},
                                   headers=admin_headers())
        assert time.monotonic() - started < scaled(2), template
        assert answer.status_code == 422, (template, answer.text)
        body = answer.json()
        assert body["error"] == "invalid_template"
        [detail] = body["details"]
        assert detail["field"] == "template"
        assert detail["message"].split(":")[0] in {"unsafe attribute", "unsafe call",
                                                   "too long", "too slow", "too deep"}
        assert "<class" not in answer.text
    unknown = await client.post(PATH, json={"template": "Hi {{ nmae }}", "data": {}},
                                headers=admin_headers())
    assert unknown.status_code == 422
    assert "nmae" in unknown.json()["details"][0]["message"]
    assert (await client.get("/healthz")).status_code == 200


async def test_without_a_key_401_and_without_admin_403(
    client: httpx.AsyncClient, base_env: dict[str, str],
) -> None:
    body = {"template": "hi", "data": {}}
    assert (await client.post(PATH, json=body)).status_code == 401
    writer = headers(await make_key(base_env["STORE_URL"], "acme", ("events:write",)))
    refused = await client.post(PATH, json=body, headers=writer)
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"


async def test_oversized_bodies_and_data_are_refused(client: httpx.AsyncClient) -> None:
    big = await client.post(PATH, json={"template": "x" * 5000, "data": {}},
                            headers=admin_headers())
    assert big.status_code == 413
    assert big.json()["error"] == "body_too_large"
    many = await client.post(PATH, json={"template": "hi",
                                         "data": {f"k{i}": 1 for i in range(101)}},
                             headers=admin_headers())
    assert many.status_code == 422
    assert many.json()["details"][0]["field"] == "data"
    deep: dict[str, object] = {}
    for _ in range(11):
        deep = {"d": deep}
    nested = await client.post(PATH, json={"template": "hi", "data": deep},
                               headers=admin_headers())
    assert nested.status_code == 422
    duplicated = await client.post(PATH, content=b'{"template": "a", "template": "b", '
                                   b'"data": {}}', headers=admin_headers())
    assert duplicated.status_code == 400
