"""``POST /v1/tokens``: a tenant key mints a user token the read API and the gateway accept;
tokens signed with the old kid still work while both kids are configured."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import jwt
import pytest

from tests.support.keys import headers, make_key
from tests.support.processes import Service
from tests.support.timing import scaled
from tests.support.ws import Client

pytestmark = pytest.mark.integration

OLD = "old-signing-secret-" + "o" * 32
NEW = "new-signing-secret-" + "n" * 32


async def test_a_minted_token_reads_and_connects_as_that_user_of_that_tenant(
    services: Callable[..., Service], base_env: dict[str, str],
) -> None:
    env = {"JWT_KEYS": f"new:{NEW},old:{OLD}"}
    producer = await services("producer", **env).start()
    gateway = await services("ws_gateway", **env).start()
    minter = headers(await make_key(base_env["STORE_URL"], "acme", ("tokens:write",)))
    writer = headers(await make_key(base_env["STORE_URL"], "acme", ("events:write",)))
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
        answer = await client.post("/v1/tokens", json={"userId": "bob", "ttlSeconds": 120},
                                   headers=minter)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["tokenType"] == "Bearer" and body["tenantId"] == "acme"
        token = body["token"]
        assert jwt.get_unverified_header(token)["kid"] == "new"
        claims = jwt.decode(token, NEW, algorithms=["HS256"])
        assert (claims["sub"], claims["tid"]) == ("bob", "acme")
        assert 100 <= claims["exp"] - time.time() <= 121
        bearer = {"Authorization": f"Bearer {token}"}
        own = await client.get("/v1/users/bob/notifications", headers=bearer)
        assert own.status_code == 200
        other = await client.get("/v1/users/carol/notifications", headers=bearer)
        assert other.status_code == 403

        # A token signed with the old kid is still accepted while both are configured.
        old = jwt.encode({"sub": "bob", "tid": "acme", "exp": int(time.time()) + 60}, OLD,
                         algorithm="HS256", headers={"kid": "old"})
        assert (await client.get("/v1/users/bob/notifications", headers={
            "Authorization": f"Bearer {old}"})).status_code == 200

        for auth, payload, status in (
            ({}, {"userId": "bob"}, 401),
            (writer, {"userId": "bob"}, 403),
            (minter, {"userId": "a b"}, 422),
            (minter, {"userId": "bob", "ttlSeconds": 10 ** 9}, 422),
            (minter, {"userId": "bob", "tenantId": "beta"}, 422),
        ):
            refused = await client.post("/v1/tokens", json=payload, headers=auth)
            assert refused.status_code == status, (payload, refused.text)
    assert token not in producer.logs()

    ws = await Client.connect(gateway.url)
    try:
        await ws.send({"type": "AUTH", "token": token})
        ok = await ws.recv()
        assert ok["type"] == "AUTH_OK", ok
    finally:
        await ws.close()
