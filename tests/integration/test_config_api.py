"""Tenants' event types and templates, users' profiles and preferences, on a real producer
(issue 19): who may call, what is stored, and every bad input a clear 4xx naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from common.store.factory import open_store
from tests.support.keys import admin_headers, headers, make_key
from tests.support.processes import Service
from tests.support.timing import scaled
from tests.support.ws import token

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(services: Callable[..., Service]) -> AsyncIterator[httpx.AsyncClient]:
    producer = await services("producer", MAX_BODY_BYTES="65536").start()
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(10)) as client:
        yield client


@pytest.fixture
async def admin(base_env: dict[str, str]) -> dict[str, str]:
    return headers(await make_key(base_env["STORE_URL"], "acme", ("admin", "notifications:read")))


async def test_types_are_listed_defined_redefined_and_deleted(
    client: httpx.AsyncClient, admin: dict[str, str],
) -> None:
    listed = await client.get("/v1/event-types", headers=admin)
    assert listed.status_code == 200, listed.text
    assert [t["type"] for t in listed.json()["types"]] == [
        "COMMENT", "FOLLOW", "LIKE", "MENTION", "SYSTEM"]
    made = await client.put("/v1/event-types/task.assigned", headers=admin,
                            json={"priority": "transactional", "transactional": True,
                                  "digestBy": ["data.taskId"]})
    assert made.status_code == 201, made.text
    assert made.json() == {"type": "task.assigned", "priority": "transactional",
                           "transactional": True, "digestWindowSeconds": 0,
                           "digestBy": ["data.taskId"], "defaultEnabled": True,
                           "quietHours": "breakthrough", "builtin": False}
    replaced = await client.put("/v1/event-types/task.assigned", headers=admin,
                                json={"type": "task.assigned", "defaultEnabled": False})
    assert replaced.status_code == 200
    assert replaced.json()["quietHours"] == "hold"
    like = await client.put("/v1/event-types/LIKE", headers=admin,
                            json={"digestWindowSeconds": 0})
    assert (like.status_code, like.json()["builtin"]) == (201, True)
    types = {t["type"]: t for t in (await client.get("/v1/event-types",
                                                     headers=admin)).json()["types"]}
    assert types["LIKE"]["digestWindowSeconds"] == 0
    assert types["task.assigned"]["defaultEnabled"] is False
    assert (await client.delete("/v1/event-types/LIKE", headers=admin)).status_code == 204
    gone = await client.delete("/v1/event-types/LIKE", headers=admin)
    assert gone.status_code == 404
    assert "built-in" in gone.json()["message"]
    types = {t["type"]: t for t in (await client.get("/v1/event-types",
                                                     headers=admin)).json()["types"]}
    assert types["LIKE"]["digestWindowSeconds"] == 300


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/event-types/1bad", {}, "type"),
    ("/v1/event-types/x", {"priority": "urgent"}, "priority"),
    ("/v1/event-types/x", {"digestWindowSeconds": 86_401}, "digestWindowSeconds"),
    ("/v1/event-types/x", {"digestWindowSeconds": "60"}, "digestWindowSeconds"),
    ("/v1/event-types/x", {"digestBy": ["userId"]}, "digestBy.0"),
    ("/v1/event-types/x", {"quietHours": "snooze"}, "quietHours"),
    ("/v1/event-types/x", {"colour": "red"}, "colour"),
    ("/v1/event-types/x", {"type": "y"}, "type"),
])
async def test_a_bad_type_is_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict[str, str], path: str, body: dict[str, object],
    field: str,
) -> None:
    answer = await client.put(path, headers=admin, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert field in [d["field"] for d in answer.json()["details"]]


async def test_templates_are_checked_versioned_listed_and_deleted(
    client: httpx.AsyncClient, admin: dict[str, str],
) -> None:
    await client.put("/v1/event-types/task.assigned", headers=admin, json={})
    source = "{{ actorId }} hat dir {{ data.task }} zugewiesen"
    path = "/v1/templates/task.assigned/de"
    strict = await client.put(path, headers=admin, json={"source": source})
    assert strict.status_code == 422  # data.task is not in the sample: strict
    assert strict.json()["error"] == "invalid_template"
    assert strict.json()["details"][0]["field"] == "source"
    assert "task" in strict.json()["details"][0]["message"]
    body = {"source": source, "sample": {"data": {"task": "Review"}}}
    first = await client.put(path, headers=admin, json=body)
    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.json()["locale"]) == (1, "de")
    assert (await client.put(path, headers=admin, json=body)).json()["version"] == 2
    like = await client.put("/v1/templates/LIKE/en-GB", headers=admin,
                            json={"source": "{{ actorId }} fancied your post"})
    assert like.status_code == 200
    default = await client.put("/v1/templates/default-locale", headers=admin,
                               json={"locale": "de"})
    assert default.json() == {"defaultLocale": "de"}
    listed = (await client.get("/v1/templates", headers=admin)).json()
    assert listed["defaultLocale"] == "de"
    assert [(t["type"], t["locale"], t["version"]) for t in listed["templates"]] == [
        ("LIKE", "en-GB", 1), ("task.assigned", "de", 2)]
    only = (await client.get("/v1/templates", params={"type": "LIKE"}, headers=admin)).json()
    assert [t["type"] for t in only["templates"]] == ["LIKE"]
    assert (await client.delete(path, headers=admin)).status_code == 204
    assert (await client.delete(path, headers=admin)).status_code == 404
    assert (await client.put(path, headers=admin, json=body)).json()["version"] == 3


@pytest.mark.parametrize(("path", "body", "code", "field"), [
    ("/v1/templates/no.such/en", {"source": "hi"}, "unknown_type", "type"),
    ("/v1/templates/LIKE/english", {"source": "hi"}, "invalid_request", "locale"),
    ("/v1/templates/LIKE/en_GB", {"source": "hi"}, "invalid_request", "locale"),
    ("/v1/templates/LIKE/en", {"source": "{{ x.__class__ }}", "sample": {"x": 1}},
     "invalid_template", "source"),
    ("/v1/templates/LIKE/en", {"source": "{% for i in range(10**9) %}{% endfor %}"},
     "invalid_template", "source"),
    ("/v1/templates/LIKE/en", {"source": "{% if %}"}, "invalid_template", "source"),
    ("/v1/templates/LIKE/en", {"source": "x" * 10_001}, "invalid_request", "source"),
    ("/v1/templates/LIKE/en", {}, "invalid_request", "source"),
    ("/v1/templates/LIKE/en", {"source": "hi", "sample": {"a": {"b": {"c": {"d": {"e": {
        "f": {"g": {"h": {"i": {"j": {}}}}}}}}}}}}, "invalid_request", "sample"),
])
async def test_a_bad_template_is_422_with_the_reason(
    client: httpx.AsyncClient, admin: dict[str, str], path: str, body: dict[str, object],
    code: str, field: str,
) -> None:
    answer = await client.put(path, headers=admin, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == code
    assert answer.json()["details"][0]["field"] == field
    assert "<class" not in answer.text


async def test_who_may_configure_a_tenant(
    client: httpx.AsyncClient, admin: dict[str, str], base_env: dict[str, str],
) -> None:
    assert (await client.get("/v1/event-types")).status_code == 401
    writer = headers(await make_key(base_env["STORE_URL"], "acme", ("events:write",)))
    assert (await client.get("/v1/event-types", headers=writer)).status_code == 403
    other = await client.get("/v1/event-types", params={"tenantId": "globex"}, headers=admin)
    assert other.status_code == 403
    operator = await client.get("/v1/event-types", headers=admin_headers())
    assert (operator.status_code, operator.json()["details"][0]["field"]) == (422, "tenantId")
    nobody = await client.get("/v1/event-types", params={"tenantId": "nobody"},
                              headers=admin_headers())
    assert nobody.status_code == 404
    made = await client.put("/v1/event-types/ops.alert", params={"tenantId": "acme"},
                            headers=admin_headers(), json={"transactional": True})
    assert made.status_code == 201
    mine = await client.get("/v1/event-types", headers=admin)
    assert "ops.alert" in [t["type"] for t in mine.json()["types"]]


async def test_bodies_are_bounded_and_strict(
    client: httpx.AsyncClient, admin: dict[str, str],
) -> None:
    big = await client.put("/v1/event-types/x", headers=admin,
                           content=b'{"digestBy": [' + b'"postId",' * 1000 + b'"x"]}')
    assert (big.status_code, big.json()["error"]) == (413, "body_too_large")
    twice = await client.put("/v1/event-types/x", headers=admin,
                             content=b'{"transactional": true, "transactional": false}')
    assert (twice.status_code, twice.json()["error"]) == (400, "invalid_json")
    empty = await client.put("/v1/users/bob/profile", headers=admin, content=b"")
    assert empty.status_code == 400


async def test_profile_by_the_users_token_and_by_a_key(
    client: httpx.AsyncClient, admin: dict[str, str], base_env: dict[str, str],
) -> None:
    bob = {"Authorization": f"Bearer {token('bob', 'acme')}"}
    unset = await client.get("/v1/users/bob/profile", headers=bob)
    assert unset.json() == {"userId": "bob", "tenantId": "acme", "locale": None,
                            "timeZone": None}
    own = await client.put("/v1/users/bob/profile", headers=bob,
                           json={"locale": "pt-BR", "timeZone": "America/Sao_Paulo"})
    assert own.status_code == 200, own.text
    assert (await client.get("/v1/users/bob/profile", headers=admin)).json() == own.json()
    assert (await client.put("/v1/users/carol/profile", headers=bob,
                             json={"locale": None, "timeZone": None})).status_code == 403
    reader = headers(await make_key(base_env["STORE_URL"], "acme", ("notifications:read",)))
    assert (await client.get("/v1/users/bob/profile", headers=reader)).status_code == 200
    refused = await client.put("/v1/users/bob/profile", headers=reader,
                               json={"locale": None, "timeZone": None})
    assert refused.status_code == 403
    cleared = await client.put("/v1/users/bob/profile", headers=admin,
                               json={"locale": None, "timeZone": "UTC"})
    assert (cleared.json()["locale"], cleared.json()["timeZone"]) == (None, "UTC")


@pytest.mark.parametrize(("body", "field"), [
    ({"locale": "de_AT", "timeZone": None}, "locale"),
    ({"locale": None, "timeZone": "Mars/Olympus"}, "timeZone"),
    ({"locale": None, "timeZone": "localtime"}, "timeZone"),
    ({"locale": None, "timeZone": "../../etc/passwd"}, "timeZone"),
    ({"locale": None}, "timeZone"),
])
async def test_a_bad_profile_is_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, object], field: str,
) -> None:
    answer = await client.put("/v1/users/bob/profile", headers=admin, json=body)
    assert answer.status_code == 422, answer.text
    assert field in [d["field"] for d in answer.json()["details"]]


async def test_preferences_follow_the_one_rule(
    client: httpx.AsyncClient, admin: dict[str, str],
) -> None:
    await client.put("/v1/event-types/digest.weekly", headers=admin,
                     json={"defaultEnabled": False})
    bob = {"Authorization": f"Bearer {token('bob', 'acme')}"}
    before = (await client.get("/v1/users/bob/preferences", headers=bob)).json()
    assert before["quietHours"] is None
    assert before["types"]["digest.weekly"] == {"enabled": False, "transactional": False,
                                                "default": False}
    assert before["types"]["LIKE"]["enabled"] is True
    put = await client.put("/v1/users/bob/preferences", headers=bob, json={
        "types": {"LIKE": False, "SYSTEM": False, "digest.weekly": True},
        "quietHours": {"start": "22:00", "end": "07:00"}})
    assert put.status_code == 200, put.text
    types = put.json()["types"]
    assert (types["LIKE"]["enabled"], types["SYSTEM"]["enabled"],
            types["digest.weekly"]["enabled"]) == (False, True, True)
    assert put.json()["quietHours"] == {"start": "22:00", "end": "07:00"}
    assert (await client.get("/v1/users/bob/preferences", headers=admin)).json() == put.json()
    # The profile and the preferences are kept apart.
    await client.put("/v1/users/bob/profile", headers=bob,
                     json={"locale": "de", "timeZone": "Europe/Berlin"})
    assert (await client.get("/v1/users/bob/preferences",
                             headers=bob)).json()["quietHours"] is not None


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"types": {"no.such": False}, "quietHours": None}, "unknown_type", "types.no.such"),
    ({"types": {"LIKE": "off"}, "quietHours": None}, "invalid_request", "types.LIKE"),
    ({"types": {}, "quietHours": {"start": "24:00", "end": "07:00"}}, "invalid_request",
     "quietHours.start"),
    ({"types": {}, "quietHours": {"start": "22:00"}}, "invalid_request", "quietHours.end"),
    ({"types": {}}, "invalid_request", "quietHours"),
    ({"types": {f"t{i}": True for i in range(201)}, "quietHours": None}, "invalid_request",
     "types"),
])
async def test_bad_preferences_are_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, object], code: str,
    field: str,
) -> None:
    answer = await client.put("/v1/users/bob/preferences", headers=admin, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == code
    assert field in [d["field"] for d in answer.json()["details"]]


async def test_erasing_a_user_deletes_their_settings(
    client: httpx.AsyncClient, admin: dict[str, str], base_env: dict[str, str],
) -> None:
    await client.put("/v1/users/bob/profile", headers=admin,
                     json={"locale": "de", "timeZone": "Europe/Berlin"})
    erased = await client.delete("/v1/users/bob", headers=admin)
    assert erased.status_code == 200, erased.text
    assert (await client.get("/v1/users/bob/profile", headers=admin)).json()["locale"] is None
    store = await open_store(base_env["STORE_URL"])
    try:
        assert await store.get_user_settings("acme", ["bob"]) == {}
    finally:
        await store.close()
