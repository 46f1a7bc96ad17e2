"""The front door against a live producer in ``jwt`` mode: API keys on ingest, the read API
and the privacy routes; the admin API; revocation seen by two replicas within 2 s; a flood
from one key refused while another tenant's key is not, nothing accepted lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aio_pika.abc import AbstractChannel

from common.naming import Names
from tests.support.amqp import queue_depth, read_queue
from tests.support.keys import ADMIN_KEY, admin_headers, headers
from tests.support.processes import Service
from tests.support.timing import eventually, scaled

pytestmark = pytest.mark.integration

LIKE: dict[str, Any] = {"type": "LIKE", "actorId": "alice", "targetId": "bob", "postId": "p1"}


async def make_tenant(client: httpx.AsyncClient, tenant: str, **limits: Any) -> None:
    answer = await client.post("/v1/admin/tenants", json={"tenantId": tenant, **limits},
                               headers=admin_headers())
    assert answer.status_code == 201, answer.text


async def make_key(client: httpx.AsyncClient, tenant: str, *scopes: str,
                   auth: dict[str, str] | None = None) -> dict[str, Any]:
    answer = await client.post(f"/v1/admin/tenants/{tenant}/keys",
                               json={"scopes": list(scopes), "name": "test"},
                               headers=auth or admin_headers())
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


@pytest.fixture
async def producer(services: Callable[..., Service]) -> Service:
    return await services("producer").start()


@pytest.fixture
async def client(producer: Service) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=producer.url, timeout=scaled(10))


async def test_ingest_needs_a_key_of_the_tenant_with_the_scope(
    producer: Service, client: httpx.AsyncClient, channel: AbstractChannel, names: Names
) -> None:
    async with client:
        await make_tenant(client, "acme")
        await make_tenant(client, "beta")
        writer = headers((await make_key(client, "acme", "events:write"))["key"])
        reader = headers((await make_key(client, "acme", "notifications:read"))["key"])
        body = orjson.dumps(LIKE)
        anonymous = await client.post("/v1/events", content=body)
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        for bad in ("nonsense", "hk_0123456789ab_" + "A" * 43, ADMIN_KEY):
            refused = await client.post("/v1/events", content=body, headers=headers(bad))
            assert refused.status_code == 401, bad
        by_bearer = await client.post(
            "/v1/events", content=body,
            headers={"Authorization": "Bearer " + writer["X-API-Key"]})
        assert by_bearer.status_code == 202
        wrong_scope = await client.post("/v1/events", content=body, headers=reader)
        assert wrong_scope.status_code == 403 and wrong_scope.json()["error"] == "forbidden"
        for path, payload in (
            ("/v1/events", {**LIKE, "tenantId": "beta"}),
            ("/v1/events/batch", {"events": [LIKE, {**LIKE, "tenantId": "beta"}]}),
            ("/like", {"actorId": "a", "targetId": "b", "postId": "p1", "tenantId": "beta"}),
        ):
            other = await client.post(path, json=payload, headers=writer)
            assert other.status_code == 403, (path, other.text)
        own = await client.post("/v1/events", json={**LIKE, "eventId": "own",
                                                    "tenantId": "acme"}, headers=writer)
        assert own.status_code == 202
    # Nothing refused reached the broker; the absent tenantId became the key's.
    messages = await read_queue(channel, names.notify_queue, 2)
    tenants = {orjson.loads(m.body)["tenantId"] for m in messages}
    assert tenants == {"acme"}
    assert await queue_depth(channel, names.notify_queue) == 0
    secret = writer["X-API-Key"].split("_", 2)[2]
    assert secret not in producer.logs()


async def test_a_key_reads_erases_and_exports_only_its_own_tenant(
    client: httpx.AsyncClient,
) -> None:
    async with client:
        await make_tenant(client, "acme")
        await make_tenant(client, "beta")
        reader = headers((await make_key(client, "acme", "notifications:read"))["key"])
        admin = headers((await make_key(client, "acme", "admin"))["key"])
        writer = headers((await make_key(client, "acme", "events:write"))["key"])
        own = await client.get("/v1/users/bob/notifications", headers=reader)
        assert own.status_code == 200, own.text
        named = await client.get("/v1/users/bob/unread-count".replace(
            "unread-count", "notifications/unread-count") + "?tenantId=acme", headers=reader)
        assert named.status_code == 200 and named.json()["tenantId"] == "acme"
        for method, path, key in (
            ("GET", "/v1/users/bob/notifications?tenantId=beta", reader),
            ("GET", "/v1/users/bob/notifications/unread-count?tenantId=beta", reader),
            ("POST", "/v1/notifications/n1/read?userId=bob&tenantId=beta", reader),
            ("GET", "/v1/users/bob/export?tenantId=beta", reader),
            ("DELETE", "/v1/users/bob?tenantId=beta", admin),
            ("DELETE", "/v1/users/bob", reader),  # erasure needs `admin`
            ("GET", "/v1/users/bob/notifications", writer),  # reading needs its scope
        ):
            answer = await client.request(method, path, headers=key)
            assert answer.status_code == 403, (method, path, answer.text)
            assert answer.json()["error"] == "forbidden"
        exported = await client.get("/v1/users/bob/export", headers=reader)
        assert exported.status_code == 200 and exported.json()["tenantId"] == "acme"
        erased = await client.delete("/v1/users/bob", headers=admin)
        assert erased.status_code == 200 and erased.json()["tenantId"] == "acme"
        no_user = await client.post("/v1/notifications/n1/read", headers=reader)
        assert no_user.status_code == 422


async def test_the_admin_api_manages_tenants_keys_and_limits(client: httpx.AsyncClient) -> None:
    async with client:
        assert (await client.get("/v1/admin/tenants")).status_code == 401
        assert (await client.head("/v1/admin/tenants", headers=admin_headers())
                ).status_code == 200
        await make_tenant(client, "acme", name="Acme Inc")
        await make_tenant(client, "beta", ratePerSecond=5, burst=10)
        again = await client.post("/v1/admin/tenants", json={"tenantId": "acme"},
                                  headers=admin_headers())
        assert again.status_code == 409 and again.json()["error"] == "conflict"
        for bad in ({"tenantId": "a b"}, {"tenantId": "x", "burst": 3}, {"tenantId": "x",
                    "extra": 1}, {"tenantId": "x", "ratePerSecond": -1, "burst": 1}, [1]):
            answer = await client.post("/v1/admin/tenants", json=bad, headers=admin_headers())
            assert answer.status_code == 422, (bad, answer.text)
        listed = (await client.get("/v1/admin/tenants", headers=admin_headers())).json()
        assert [t["tenantId"] for t in listed["tenants"]] == ["default", "acme", "beta"]
        assert listed["tenants"][2]["ratePerSecond"] == 5.0

        made = await make_key(client, "acme", "admin", "events:write")
        assert made["key"].startswith(made["prefix"]) and made["tenantId"] == "acme"
        keys = (await client.get("/v1/admin/tenants/acme/keys",
                                 headers=admin_headers())).json()["keys"]
        assert [k["keyId"] for k in keys] == [made["keyId"]]
        assert "key" not in keys[0] and made["key"] not in str(keys)
        bad_scope = await client.post("/v1/admin/tenants/acme/keys", json={"scopes": ["root"]},
                                      headers=admin_headers())
        assert bad_scope.status_code == 422
        missing = await client.post("/v1/admin/tenants/nobody/keys",
                                    json={"scopes": ["admin"]}, headers=admin_headers())
        assert missing.status_code == 404

        # A tenant's admin key: its own tenant's keys only; no tenants, no limits.
        tenant_admin = headers(made["key"])
        own = await make_key(client, "acme", "events:write", auth=tenant_admin)
        mine = (await client.get("/v1/admin/tenants", headers=tenant_admin)).json()
        assert [t["tenantId"] for t in mine["tenants"]] == ["acme"]
        beta_key = await make_key(client, "beta", "events:write")
        for method, path, body in (
            ("POST", "/v1/admin/tenants", {"tenantId": "gamma"}),
            ("PUT", "/v1/admin/tenants/acme/limits", {"ratePerSecond": 1e6, "burst": 10}),
            ("GET", "/v1/admin/tenants/beta/keys", None),
            ("POST", "/v1/admin/tenants/beta/keys", {"scopes": ["admin"]}),
        ):
            answer = await client.request(method, path, json=body, headers=tenant_admin)
            assert answer.status_code == 403, (method, path, answer.text)
        foreign = await client.post(f"/v1/admin/keys/{beta_key['keyId']}/revoke",
                                    headers=tenant_admin)
        assert foreign.status_code == 404
        events_only = await client.get("/v1/admin/tenants", headers=headers(own["key"]))
        assert events_only.status_code == 403

        # Rotate: old and new both valid until the old is revoked.
        rotated = await client.post(f"/v1/admin/keys/{own['keyId']}/rotate",
                                    headers=tenant_admin)
        assert rotated.status_code == 201 and rotated.json()["scopes"] == ["events:write"]
        for key in (own["key"], rotated.json()["key"]):
            assert (await client.post("/v1/events", json=LIKE,
                                      headers=headers(key))).status_code == 202
        revoked = await client.post(f"/v1/admin/keys/{own['keyId']}/revoke",
                                    headers=tenant_admin)
        assert revoked.status_code == 200 and revoked.json()["revokedAt"]
        refused = await client.post("/v1/events", json=LIKE, headers=headers(own["key"]))
        assert refused.status_code == 401  # this replica forgot it at once
        assert (await client.post("/v1/events", json=LIKE,
                                  headers=headers(rotated.json()["key"]))).status_code == 202
        again_rotated = await client.post(f"/v1/admin/keys/{own['keyId']}/rotate",
                                          headers=admin_headers())
        assert again_rotated.status_code == 409
        unknown = await client.post("/v1/admin/keys/000000000000/revoke",
                                    headers=admin_headers())
        assert unknown.status_code == 404

        limits = await client.put("/v1/admin/tenants/acme/limits",
                                  json={"ratePerSecond": 0.01, "burst": 2},
                                  headers=admin_headers())
        assert limits.status_code == 200 and limits.json()["burst"] == 2
        assert (await client.put("/v1/admin/tenants/acme/limits", json={"burst": 2},
                                 headers=admin_headers())).status_code == 422


async def test_a_revoked_key_is_refused_by_two_replicas_within_2_s(
    services: Callable[..., Service],
) -> None:
    one = await services("producer").start()
    two = await services("producer").start()
    async with httpx.AsyncClient(timeout=scaled(10)) as client:
        made = (await client.post(f"{one.url}/v1/admin/tenants/default/keys",
                                  json={"scopes": ["events:write"]},
                                  headers=admin_headers())).json()
        key = headers(made["key"])
        for replica in (one, two):  # both have it cached now
            assert (await client.post(f"{replica.url}/v1/events", json=LIKE,
                                      headers=key)).status_code == 202
        answer = await client.post(f"{one.url}/v1/admin/keys/{made['keyId']}/revoke",
                                   headers=admin_headers())
        assert answer.status_code == 200
        revoked_at = time.monotonic()

        async def refused_by(replica: Service) -> float:
            while True:
                status = (await client.post(f"{replica.url}/v1/events", json=LIKE,
                                            headers=key)).status_code
                if status == 401:
                    return time.monotonic() - revoked_at
                assert status == 202
                assert time.monotonic() - revoked_at < scaled(2), "still accepted after 2 s"
                await asyncio.sleep(0.05)

        delays = await asyncio.gather(refused_by(one), refused_by(two))
        assert max(delays) < scaled(2)


async def test_a_flood_from_one_key_leaves_another_tenant_alone_and_loses_nothing(
    services: Callable[..., Service], channel: AbstractChannel, names: Names,
) -> None:
    producer = await services("producer").start()
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
        await make_tenant(client, "noisy", ratePerSecond=0.5, burst=8)
        await make_tenant(client, "quiet")  # no limits of its own, none by default here
        noisy = headers((await make_key(client, "noisy", "events:write"))["key"])
        quiet = headers((await make_key(client, "quiet", "events:write"))["key"])
        flood = await asyncio.gather(*(client.post("/v1/events", json=LIKE, headers=noisy)
                                       for _ in range(30)))
        calm = [await client.post("/v1/events", json=LIKE, headers=quiet) for _ in range(10)]
        metrics = (await client.get("/metrics")).text
    statuses = [a.status_code for a in flood]
    assert set(statuses) == {202, 429} and 8 <= statuses.count(202) < 30
    assert all(a.headers["ratelimit-policy"].endswith("q=8;w=16") for a in flood)
    assert [a.status_code for a in calm] == [202] * 10
    assert "ratelimit" not in calm[0].headers
    assert f'herald_ingest_rate_limited_total{{tenant="noisy"}} {statuses.count(429)}.0' \
        in metrics
    accepted = statuses.count(202) + 10
    await eventually(lambda: queue_depth(channel, names.notify_queue),
                     lambda depth: depth >= accepted, timeout=10)
    assert await queue_depth(channel, names.notify_queue) == accepted


async def test_trusted_mode_keeps_the_door_open_and_says_so(
    services: Callable[..., Service],
) -> None:
    producer = await services("producer", AUTH_MODE="trusted", JWT_SECRET="").start()
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
        assert (await client.post("/v1/events", json=LIKE)).status_code == 202
        assert (await client.post("/v1/events", json={**LIKE, "tenantId": "any"}
                                  )).status_code == 202
        assert (await client.get("/v1/admin/tenants")).status_code == 401
    assert "AUTH_MODE=trusted" in producer.logs()


async def test_without_the_store_no_key_can_be_checked_and_ingest_says_so(
    services: Callable[..., Service], tmp_path: Path,
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the database directory should be")
    producer = services("producer", STORE_URL=f"sqlite:///{blocker}/h.db")
    await producer.start(ready=False)
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
        answer = await client.post("/v1/events", json=LIKE,
                                   headers=headers("hk_0123456789ab_" + "A" * 43))
        anonymous = await client.post("/v1/events", json=LIKE)
        listed = await client.head("/v1/admin/tenants", headers=admin_headers())
    assert answer.status_code == 503 and answer.json()["error"] == "dependency_unavailable"
    assert answer.json()["details"][0]["dependency"] == "store"
    assert answer.headers["retry-after"]
    assert anonymous.status_code == 401  # no key: refused before the store is asked
    assert listed.status_code == 503
