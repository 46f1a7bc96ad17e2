"""What only the MongoDB backend does: its indexes, the TTL retention and ``open``.

Runs against the real server or the fake, as the conftest chose (``mongodb-real`` /
``mongodb-fake`` in the summary)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import AsyncMongoClient

from common.store import open_store
from common.store.mongo import COLLECTION, MongoStore

pytestmark = pytest.mark.integration


async def indexes(client: Any, database: str) -> dict[str, Any]:
    info: dict[str, Any] = await client[database][COLLECTION].index_information()
    return info


async def test_indexes_for_history_unread_and_retention(mongo_client: tuple[Any, str]) -> None:
    client, database = mongo_client
    await MongoStore(client, database, retention_days=90).ensure_schema()
    info = await indexes(client, database)
    assert [tuple(k) for k in info["user_newest_first"]["key"]] == [
        ("tenantId", 1), ("userId", 1), ("createdAt", -1), ("_id", -1)]
    assert info["retention"]["expireAfterSeconds"] == 90 * 86400
    assert [tuple(k) for k in info["retention"]["key"]] == [("statusAt", 1)]


async def test_a_changed_retention_is_applied_to_the_existing_index(
    mongo_client: tuple[Any, str],
) -> None:
    client, database = mongo_client
    await MongoStore(client, database, retention_days=90).ensure_schema()
    await MongoStore(client, database, retention_days=7).ensure_schema()
    await MongoStore(client, database, retention_days=7).ensure_schema()
    assert (await indexes(client, database))["retention"]["expireAfterSeconds"] == 7 * 86400


async def test_open_store_connects_and_pings(mongo_server: str | None, prefix: str) -> None:
    if mongo_server is None:
        pytest.skip("open() connects to a server: needs a real MongoDB")
    base, _, query = mongo_server.partition("?")
    authority = base.split("://", 1)[1].split("/", 1)[0]
    database = "herald_open_" + prefix.replace("-", "_")
    params = [p for p in query.split("&") if p]
    if "@" in authority and not any(p.startswith("authSource=") for p in params):
        params.append("authSource=admin")
    url = f"{base.split('://', 1)[0]}://{authority}/{database}"
    url += "?" + "&".join(params) if params else ""
    store = await open_store(url)
    try:
        assert store.backend == "mongodb"
        await store.ping()
        assert isinstance(store, MongoStore)
    finally:
        await store.close()
        cleanup: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
        await cleanup.drop_database(database)
        await cleanup.close()
