"""Fixtures: the real RabbitMQ and Redis, and a resource prefix of its own for every test.

Nothing here mocks a broker. Each test's exchanges, queues and Redis keys live under
``<run id>-<n>`` and are deleted afterwards, so parallel or repeated runs never meet.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractConnection
from redis.asyncio import Redis

from common.naming import Names
from tests.support.amqp import delete_topology
from tests.support.keys import ADMIN_KEY, make_key
from tests.support.processes import Service
from tests.support.ws import SECRET

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = "ht" + secrets.token_hex(3)
_counter = itertools.count(1)


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """This test's resource prefix; afterwards its exchanges, queues and keys are deleted
    (services are stopped first: fixture teardown runs in reverse order)."""
    value = f"{RUN_ID}-{next(_counter)}"
    yield value
    await _delete_everything_under(value)


async def _delete_everything_under(value: str) -> None:
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        await delete_topology(connection, Names(value))
    finally:
        await connection.close()
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{value}:*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start:start + 500])
    finally:
        await client.aclose()


@pytest.fixture
def names(prefix: str) -> Names:
    return Names(prefix)


@pytest.fixture(scope="session")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def raw_redis(prefix: str) -> AsyncIterator[Redis]:
    """A client that answers bytes, as the services' clients do."""
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def amqp(names: Names) -> AsyncIterator[AbstractConnection]:
    connection = await aio_pika.connect(RABBITMQ_URL)
    yield connection
    await connection.close()


@pytest.fixture
async def channel(amqp: AbstractConnection) -> AbstractChannel:
    return await amqp.channel(on_return_raises=True)


@pytest.fixture
def base_env(prefix: str, tmp_path: Path) -> dict[str, str]:
    return {
        "STORE_URL": f"sqlite:///{tmp_path}/herald.db",
        "HERALD_PREFIX": prefix,
        "RABBITMQ_URL": RABBITMQ_URL,
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "info",
        "JWT_SECRET": SECRET,
        "ADMIN_API_KEY": ADMIN_KEY,
    }


@pytest.fixture
async def api_key(base_env: dict[str, str]) -> str:
    """A key of tenant ``default`` with every scope, in the store of this test's services."""
    return await make_key(base_env["STORE_URL"])


@pytest.fixture
def key_headers(api_key: str) -> dict[str, str]:
    """``{"X-API-Key": <api_key>}``: what a backend sends with each call."""
    return {"X-API-Key": api_key}


@pytest.fixture
def services(
    base_env: dict[str, str], logdir: Path, request: pytest.FixtureRequest, api_key: str
) -> Iterator[Callable[..., Service]]:
    """``services("consumer", RATE_LIMIT_COUNT="3")`` → a not-yet-started Service. A
    producer's ``headers`` carry ``api_key`` (tenant ``default``, every scope)."""
    made: list[Service] = []

    def make(module: str, **env: str) -> Service:
        service = Service(module, {**base_env, **env}, logdir)
        if module == "producer":
            service.headers = {"X-API-Key": api_key}
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        for service in made:
            print(f"--- {service.module} log ---\n{service.logs()[-4000:]}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
