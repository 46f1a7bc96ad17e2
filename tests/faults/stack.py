"""The whole pipeline for one fault run: its own redis-server (append-only file on), the
local RabbitMQ under a fresh prefix (or a node of the fault's own), a SQLite store in a temp
dir (or a directory the fault chose: a small tmpfs), and the four services as real processes.
Everything it made is removed by :meth:`Stack.close`."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import aio_pika

from common.naming import Names
from tests.support.amqp import delete_topology
from tests.support.keys import headers, make_key
from tests.support.processes import Service
from tests.support.rabbitmq_node import RabbitNode
from tests.support.redis_server import RedisServer
from tests.support.ws import SECRET

__all__ = ["RABBITMQ_URL", "SERVICES", "Stack"]

SERVICES = ("consumer", "persister", "ws_gateway", "producer")
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


class Stack:
    def __init__(self, workdir: Path, redis_fsync: str = "everysec",
                 rabbitmq_node: RabbitNode | None = None, store_dir: Path | None = None,
                 **env: str) -> None:
        self.workdir = workdir
        self.prefix = "hf" + secrets.token_hex(4)
        self.names = Names(self.prefix)
        self.redis = RedisServer(workdir, "--appendonly", "yes", "--appendfsync", redis_fsync)
        self.rabbitmq_node = rabbitmq_node
        self.rabbitmq_url = RABBITMQ_URL if rabbitmq_node is None else rabbitmq_node.url
        self.store_path = (store_dir or workdir) / "herald.db"
        self.env = {
            "HERALD_PREFIX": self.prefix, "RABBITMQ_URL": self.rabbitmq_url,
            "STORE_URL": f"sqlite:///{self.store_path}", "JWT_SECRET": SECRET,
            "LOG_LEVEL": "info", "RATE_LIMIT_COUNT": "1000000", "SEMANTIC_WINDOW_SECONDS": "0",
            "CLAIM_IDLE_SECONDS": "1", "RETRY_MAX_SECONDS": "1", "PUBLISH_TIMEOUT_SECONDS": "2",
            **env,
        }
        self.services: dict[str, Service] = {}
        self.key_headers: dict[str, str] = {}
        """The API key (tenant ``default``, every scope) the ledger publishes with."""

    async def start(self) -> Stack:
        self.key_headers = headers(await make_key(self.env["STORE_URL"]))
        await self.redis.start()
        self.env["REDIS_URL"] = self.redis.url
        logdir = self.workdir / "logs"
        logdir.mkdir(exist_ok=True)
        self.services = {name: Service(name, self.env, logdir) for name in SERVICES}
        await asyncio.gather(*(s.start() for s in self.services.values()))
        return self

    def __getitem__(self, name: str) -> Service:
        return self.services[name]

    async def close(self) -> None:
        for service in self.services.values():
            service.stop()
        self.redis.stop()
        connection = await aio_pika.connect(self.rabbitmq_url)
        async with connection:
            await delete_topology(connection, self.names)
