"""Herald services as real processes on free ports, as an operator would run them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.timing import scaled

__all__ = ["Service", "free_port"]

ROOT = Path(__file__).resolve().parents[2]


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and never handed out before in this process: services started
    together (``asyncio.gather``) bind theirs only later, and the kernel may offer a port
    twice meanwhile (a consumer and a persister once got the same one)."""
    for _ in range(1000):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no fresh free port in 1000 tries")


class Service:
    """``python -m <module>`` with the given environment; logs go to a file under ``logdir``."""

    def __init__(self, module: str, env: dict[str, str], logdir: Path) -> None:
        self.module = module
        self.port = int(env.get("PORT") or free_port())
        self.env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.logdir = logdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.headers: dict[str, str] = {}
        """What a client of this service sends with each call (a producer: its API key)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.logdir / f"{self.module}-{self.port}.log"

    def spawn(self) -> None:
        self.starts += 1
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT,
            )

    async def start(self, timeout: float = 15.0, ready: bool = True) -> Service:
        """Spawn and wait until ``/healthz`` (and ``/readyz`` if ``ready``) answer 200."""
        self.spawn()
        await self.wait_up(timeout, ready)
        return self

    async def wait_up(self, timeout: float = 15.0, ready: bool = True) -> None:
        deadline = time.monotonic() + scaled(timeout)
        path = "/readyz" if ready else "/healthz"
        last = ""
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.module} exited {self.proc.returncode}:\n"
                                         f"{self.logs()[-3000:]}")
                try:
                    answer = await client.get(self.url + path, timeout=2)
                    if answer.status_code == 200:
                        return
                    last = answer.text
                except httpx.TransportError as exc:
                    last = repr(exc)
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.module} not up in {timeout} s (last {path}: {last[:300]}):"
                             f"\n{self.logs()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    async def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, and the exit status once it has drained."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + scaled(timeout)
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.kill()
            raise AssertionError(f"{self.module} did not exit after SIGTERM")
        return self.proc.returncode

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(scaled(20))
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
