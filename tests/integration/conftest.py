"""The ``store`` fixture: one contract, every backend, and the output says which MongoDB ran.

The MongoDB backend runs against, in order of preference:

1. a real server at ``MONGODB_URL`` (``mongodb-real``);
2. a real server in a container started with testcontainers, when a Docker engine answers
   (``mongodb-real``);
3. the in-process fake of ``tests/support/fake_mongo.py`` (``mongodb-fake``) — a test
   double of the client API, not MongoDB.

The choice is made once per session, shows in every test id, and is repeated in a line of
the terminal summary.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, Literal

import pytest
from pymongo import AsyncMongoClient

from common.store import Store
from common.store.mongo import MongoStore
from common.store.sqlite import SqliteStore
from tests.support.fake_mongo import FakeAsyncMongoClient

MONGO_IMAGE = "mongo:7"
_RAN = pytest.StashKey[set[str]]()


@dataclass(frozen=True)
class MongoTarget:
    kind: Literal["real", "container", "fake"]
    url: str | None

    @property
    def test_id(self) -> str:
        return "mongodb-fake" if self.kind == "fake" else "mongodb-real"

    @property
    def description(self) -> str:
        if self.kind == "real":
            return "a real MongoDB server (MONGODB_URL)"
        if self.kind == "container":
            return f"a real MongoDB server in a testcontainers container ({MONGO_IMAGE})"
        return ("the in-process FAKE of tests/support/fake_mongo.py, not MongoDB "
                "(no MONGODB_URL set and no Docker engine reachable)")


def _docker_reachable() -> bool:
    """``GET /_ping`` on the engine ``DOCKER_HOST`` names (or the default socket).

    Asked by hand, not through the docker SDK, which leaks a socket when the engine is
    absent (a ResourceWarning that ``filterwarnings = error`` would pin on a random test)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            path = host.removeprefix("unix://")
            if not os.path.exists(path):
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = path
        elif host.startswith("tcp://"):
            hostname, _, port = host.removeprefix("tcp://").partition(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (hostname, int(port or 2375))
        else:
            return False
        with sock:
            sock.settimeout(3)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(1024).split(b"\r\n", 1)[0] + b" "
    except (OSError, ValueError):
        return False


def _choose() -> MongoTarget:
    url = os.environ.get("MONGODB_URL")
    if url:
        return MongoTarget("real", url)
    if _docker_reachable():
        return MongoTarget("container", None)
    return MongoTarget("fake", None)


MONGO = _choose()
STORE_BACKENDS = [pytest.param("sqlite", id="sqlite"),
                  pytest.param("mongo", id=MONGO.test_id)]


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """A real server's URL (never asked for when the fake runs)."""
    if MONGO.url is not None:
        yield MONGO.url
        return
    from testcontainers.community.mongodb import MongoDbContainer

    with MongoDbContainer(MONGO_IMAGE) as container:
        yield container.get_connection_url()


@pytest.fixture
def mongo_server(request: pytest.FixtureRequest) -> str | None:
    """The real server's URL, or ``None`` when the fake runs (no container is started)."""
    if MONGO.kind == "fake":
        return None
    url: str = request.getfixturevalue("mongo_url")
    return url


@pytest.fixture
async def mongo_client(
    request: pytest.FixtureRequest, prefix: str, mongo_server: str | None
) -> AsyncIterator[tuple[Any, str]]:
    """``(client, database name)``: the fake's client, or a real one on a database of this
    test's own (dropped afterwards)."""
    request.config.stash.setdefault(_RAN, set()).add(f"mongodb: {MONGO.description}")
    client: Any
    if mongo_server is None:
        client = FakeAsyncMongoClient()
    else:
        client = AsyncMongoClient(mongo_server, tz_aware=True, tzinfo=UTC,
                                  serverSelectionTimeoutMS=5000)
    database = "herald_test_" + re.sub(r"[^A-Za-z0-9_]", "_", prefix)
    yield client, database
    try:
        await client.drop_database(database)
    finally:
        await client.close()


@pytest.fixture
async def sqlite_store(request: pytest.FixtureRequest, tmp_path: Path
                       ) -> AsyncIterator[SqliteStore]:
    request.config.stash.setdefault(_RAN, set()).add("sqlite: a real SQLite file")
    store = await SqliteStore.open(str(tmp_path / "store.db"))
    yield store
    await store.close()


@pytest.fixture
async def mongo_store(mongo_client: tuple[Any, str]) -> MongoStore:
    client, database = mongo_client
    store = MongoStore(client, database, retention_days=90)
    await store.ensure_schema()
    return store


@pytest.fixture(params=STORE_BACKENDS)
def store(request: pytest.FixtureRequest) -> Store:
    """An empty store of each backend (retention 90 days)."""
    chosen: Store = request.getfixturevalue(f"{request.param}_store")
    return chosen


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    ran = config.stash.get(_RAN, set())
    if ran:
        terminalreporter.write_sep("-", "store contract backends")
        for line in sorted(ran):
            terminalreporter.write_line(f"store contract ran against {line}")


def pytest_report_header(config: pytest.Config) -> str:
    """Shown when this conftest is loaded at start (tests/integration on the command line)."""
    return f"store contract, MongoDB backend: {MONGO.test_id} — {MONGO.description}"
