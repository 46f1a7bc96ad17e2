"""The services as subprocesses on free ports, under a fresh ``HERALD_PREFIX``.

Settings for a benchmark, not for production: the rate limit is effectively off and the
semantic window is 0 (both would otherwise make the consumer drop load on purpose), the
logs are at ``warning`` (no per-event lines), JWT auth with a secret made for this run, an API
key of tenant ``default`` made in the store before the producer starts (``Stack.api_key``),
and the SQLite store in a temporary directory. On exit every service gets SIGTERM (SIGKILL
after 20 s), and the run's queues, exchanges and Redis keys are deleted.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aio_pika
from redis.asyncio import Redis

from bench.http import HttpError, get
from common.naming import Names

__all__ = ["BENCH_ENV", "RABBITMQ_URL", "REDIS_URL", "ROOT", "Service", "Stack", "free_port"]

ROOT = Path(__file__).resolve().parents[1]
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

BENCH_ENV = {
    "RATE_LIMIT_COUNT": "1000000",
    "SEMANTIC_WINDOW_SECONDS": "0",
    "LOG_LEVEL": "warning",
    "AUTH_MODE": "jwt",
}


async def _make_key(store_url: str) -> str:
    """A key of tenant ``default`` with ``events:write``, made in the store (as
    ``python -m producer.admin`` would)."""
    from common.store.factory import open_store
    from common.tenancy import EVENTS_WRITE
    from producer.admin import tenants as tenant_admin

    store = await open_store(store_url)
    try:
        if await store.get_tenant("default") is None:
            await tenant_admin.create_tenant(store, "default")
        return (await tenant_admin.create_key(store, "default", [EVENTS_WRITE], "bench")).secret
    finally:
        await store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Service:
    def __init__(self, module: str, env: dict[str, str], logdir: Path) -> None:
        self.module = module
        self.port = free_port()
        self.env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.log_path = logdir / f"{module}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def spawn(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module], cwd=ROOT,
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)

    async def start(self, within_s: float = 30.0) -> Service:
        """Spawn, then wait until ``/readyz`` answers 200."""
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited {self.proc.returncode}: "
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                if (await get(self.url + "/readyz", 1.0))[0] == 200:
                    return self
            except HttpError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.module} not ready in {within_s} s; log: {self.log_path}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class Stack:
    """``async with Stack() as stack: await stack.start("producer")`` — services started on
    demand (a backlog scenario starts the consumer only once the queue is full)."""

    def __init__(self, **env: str) -> None:
        self.prefix = "bench-" + secrets.token_hex(4)
        self.secret = secrets.token_hex(32)
        self._tmp = Path(tempfile.mkdtemp(prefix="herald-bench-"))
        self.env = {**BENCH_ENV, "HERALD_PREFIX": self.prefix, "JWT_SECRET": self.secret,
                    "STORE_URL": f"sqlite:///{self._tmp}/herald.db",
                    "RABBITMQ_URL": RABBITMQ_URL, "REDIS_URL": REDIS_URL, **env}
        self.services: dict[str, Service] = {}
        self.names = Names(self.prefix)
        self.logs_dir: Path | None = None
        self.api_key: str | None = None

    async def start(self, module: str, wait: bool = True, **env: str) -> Service:
        """Start ``module``; with ``wait``, return once it is ready."""
        if module == "producer" and self.api_key is None:
            self.api_key = await _make_key(self.env["STORE_URL"])
        service = Service(module, {**self.env, **env}, self._tmp)
        self.services[module] = service
        if not wait:
            service.spawn()
            return service
        return await service.start()

    def stop(self, module: str) -> None:
        self.services[module].stop()

    def pids(self) -> dict[str, int]:
        return {name: s.pid for name, s in self.services.items()
                if s.proc is not None and s.proc.poll() is None}

    def url(self, module: str) -> str:
        return self.services[module].url

    def log_tail(self, module: str, chars: int = 2000) -> str:
        try:
            return self.services[module].log_path.read_text(errors="replace")[-chars:]
        except (KeyError, OSError):
            return ""

    async def __aenter__(self) -> Stack:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()
        try:
            await self.cleanup()
        finally:
            self._keep_logs()
            shutil.rmtree(self._tmp, ignore_errors=True)

    def _keep_logs(self) -> None:
        """Copy the services' logs (warnings and errors only, as LOG_LEVEL=warning) to
        ``bench/results/logs/<prefix>/`` when any service wrote something."""
        logs = [s.log_path for s in self.services.values()
                if s.log_path.exists() and s.log_path.stat().st_size > 0]
        if not logs:
            return
        self.logs_dir = ROOT / "bench" / "results" / "logs" / self.prefix
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        for path in logs:
            shutil.copy(path, self.logs_dir / path.name)
        print(f"# service logs (warnings, errors) kept in {self.logs_dir}", file=sys.stderr)

    async def cleanup(self) -> None:
        """Delete this run's queues, exchanges and Redis keys (a channel per step, since a
        failed step closes its channel)."""
        connection = await aio_pika.connect(RABBITMQ_URL)
        try:
            for queue in (self.names.notify_queue, self.names.dead_letter_queue,
                          self.names.fanout_queue):
                async with connection.channel() as channel:
                    await channel.queue_delete(queue)
            for exchange in (self.names.events_exchange, self.names.dead_letter_exchange):
                async with connection.channel() as channel:
                    await channel.exchange_delete(exchange)
        finally:
            await connection.close()
        redis = Redis.from_url(REDIS_URL)
        try:
            batch: list[bytes] = []
            async for key in redis.scan_iter(match=f"{self.prefix}:*", count=5000):
                batch.append(key)
                if len(batch) >= 1000:
                    await redis.unlink(*batch)
                    batch = []
            if batch:
                await redis.unlink(*batch)
        finally:
            await redis.aclose()
