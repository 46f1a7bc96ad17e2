"""A RabbitMQ node of the test's own (``rabbitmq-server -detached`` with its own node name,
AMQP and distribution ports on loopback, data and logs in a temporary directory owned by the
``rabbitmq`` user), for the states the shared node on 5672 must never be put in: a memory
alarm. Stopped and removed afterwards. Never touches the shared node."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port
from tests.support.timing import scaled

__all__ = ["RabbitNode", "rabbitmq_node"]


@dataclass(frozen=True)
class RabbitNode:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    async def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """``rabbitmqctl -n <this node> ARGS``; raises on a non-zero exit."""
        done = await asyncio.to_thread(
            subprocess.run, ["rabbitmqctl", "-n", self.name, *args], capture_output=True,
            text=True, timeout=scaled(timeout), check=False)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr[-1000:]}")
        return done.stdout

    async def memory_alarm(self, on: bool) -> None:
        """Raise (a 1 MB high watermark) or clear (the default 0.4) the memory alarm."""
        if on:
            await self.ctl("set_vm_memory_high_watermark", "absolute", "1MB")
        else:
            await self.ctl("set_vm_memory_high_watermark", "0.4")


@asynccontextmanager
async def rabbitmq_node() -> AsyncIterator[RabbitNode]:
    """A started node; its directory is a fresh one under the system's temporary directory
    (pytest's are private to root, and the node runs as the ``rabbitmq`` user)."""
    if shutil.which("rabbitmq-server") is None:
        raise RuntimeError("rabbitmq-server is not installed (.ci/run installs it)")
    port, dist = free_port(), free_port()
    base = await asyncio.to_thread(_lay_out, port)
    node = RabbitNode(f"htest-{port}@localhost", port)
    env = {**os.environ, "RABBITMQ_NODENAME": node.name,
           "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
           "RABBITMQ_DIST_PORT": str(dist), "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
           "RABBITMQ_LOG_BASE": str(base / "log"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
           "RABBITMQ_PID_FILE": str(base / "pid")}
    started = await asyncio.to_thread(
        subprocess.run, ["rabbitmq-server", "-detached"], env=env, capture_output=True,
        text=True, timeout=scaled(60), check=False, cwd=base)
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        deadline = time.monotonic() + scaled(60)
        while True:
            try:
                await node.ctl("await_startup", "--timeout", "10", timeout=20)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    logs = "\n".join(p.read_text(errors="replace")[-2000:]
                                     for p in (base / "log").glob("*.log"))
                    raise AssertionError(
                        f"rabbitmq node {node.name} did not start:\n{logs}") from None
                await asyncio.sleep(0.5)
        yield node
    finally:
        await asyncio.to_thread(
            subprocess.run, ["rabbitmqctl", "-n", node.name, "stop"], capture_output=True,
            timeout=scaled(60), check=False)
        shutil.rmtree(base, ignore_errors=True)


def _lay_out(port: int) -> Path:
    """The node's directory: config, data and logs, owned by the ``rabbitmq`` user."""
    base = Path(tempfile.mkdtemp(prefix="herald-rabbit-"))
    base.chmod(0o755)
    (base / "mnesia").mkdir()
    (base / "log").mkdir()
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.local = 127.0.0.1:{port}\nloopback_users = none\n")
    for path in (base, *base.rglob("*")):
        shutil.chown(path, "rabbitmq", "rabbitmq")
    return base
