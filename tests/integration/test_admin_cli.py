"""``python -m producer.admin`` on a real SQLite store: the same operations as the admin API,
and what a producer then accepts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.keys import headers
from tests.support.processes import ROOT, Service
from tests.support.timing import eventually, scaled

pytestmark = pytest.mark.integration


def admin(store_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STORE_URL": store_url}
    return subprocess.run([sys.executable, "-m", "producer.admin", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=scaled(30), check=False)


def ok(store_url: str, *args: str) -> Any:
    done = admin(store_url, *args)
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)


async def test_the_cli_makes_tenants_keys_and_limits_a_producer_honours(
    tmp_path: Path, services: Callable[..., Service], base_env: dict[str, str],
) -> None:
    url = base_env["STORE_URL"]
    assert ok(url, "tenants", "create", "acme", "--name", "Acme")["name"] == "Acme"
    assert [t["tenantId"] for t in ok(url, "tenants", "list")["tenants"]][-1] == "acme"
    made = ok(url, "keys", "create", "acme", "--scopes", "events:write,notifications:read")
    assert made["key"].startswith("hk_")
    assert made["scopes"] == ["events:write",
                                                                  "notifications:read"]
    listed = ok(url, "keys", "list", "acme")["keys"]
    assert [k["keyId"] for k in listed] == [made["keyId"]]
    assert made["key"] not in str(listed)
    limits = ok(url, "limits", "set", "acme", "--rate", "100", "--burst", "200")
    assert (limits["ratePerSecond"], limits["burst"]) == (100.0, 200)
    assert ok(url, "limits", "set", "acme", "--default")["burst"] is None
    rotated = ok(url, "keys", "rotate", made["keyId"])
    assert rotated["keyId"] != made["keyId"]
    assert rotated["scopes"] == made["scopes"]

    producer = await services("producer").start()
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
        like = {"type": "LIKE", "actorId": "a", "targetId": "b", "postId": "p1"}
        for key in (made["key"], rotated["key"]):
            assert (await client.post("/v1/events", json=like,
                                      headers=headers(key))).status_code == 202
        assert ok(url, "keys", "revoke", made["keyId"])["revokedAt"]
        # Within the producer's cache time (1 s) the revocation is seen.
        async def status() -> int:
            answer = await client.post("/v1/events", json=like, headers=headers(made["key"]))
            return answer.status_code

        assert await eventually(status, lambda code: code == 401, timeout=6) == 401


@pytest.mark.parametrize(("args", "message"), [
    (("tenants", "create", "a b"), "tenantId must be an id"),
    (("keys", "create", "nobody", "--scopes", "admin"), "no tenant 'nobody'"),
    (("keys", "revoke", "000000000000"), "no such key"),
    (("limits", "set", "nobody", "--rate", "1"), "give --rate and --burst"),
])
def test_refusals_exit_1_and_say_why(tmp_path: Path, args: tuple[str, ...],
                                     message: str) -> None:
    done = admin(f"sqlite:///{tmp_path}/h.db", *args)
    assert done.returncode == 1
    assert message in done.stderr
    assert not done.stdout


def test_an_unknown_scope_and_a_bad_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    ok(url, "tenants", "create", "acme")
    assert ok(url, "tenants", "create", "beta")["tenantId"] == "beta"
    done = admin(url, "keys", "create", "acme", "--scopes", "root")
    assert done.returncode == 1
    assert "unknown scope 'root'" in done.stderr
    assert admin(url, "tenants", "create", "acme").returncode == 1  # exists
    assert admin(url, "keys").returncode == 2
