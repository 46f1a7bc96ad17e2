"""Browser tests: scenarios in Debian's ``chromium``, driven by ``playwright-core`` from npm
(tests/browser/), started and talked to from pytest.

A scenario is a Node script in tests/browser/ (``*.mjs``). It gets its inputs as environment
variables (``HERALD_*``, plus :data:`ARTIFACTS` for screenshots) and talks JSON lines:

* :func:`run_scenario` runs one to its end (a scaled timeout) and returns the last JSON object
  it printed on stdout;
* :class:`Scenario` keeps one running and sends it commands (``{"cmd": ...}`` per line on its
  stdin; one JSON answer per line on stdout), for tests that act on the services (kill a
  gateway) between the browser's steps.

What is missing (chromium, node, ``npm ci`` in tests/browser) skips the test, or fails it when
``CI=true``: in CI, .ci/run installs them, so their absence is a bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.timing import FACTOR, scaled

__all__ = ["ARTIFACTS", "BROWSER_DIR", "Scenario", "chromium_path", "require_browser",
           "run_scenario", "scenario"]

ROOT = Path(__file__).resolve().parents[2]
BROWSER_DIR = ROOT / "tests" / "browser"
ARTIFACTS = ROOT / "test-artifacts"


def chromium_path() -> str | None:
    configured = os.environ.get("HERALD_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_browser() -> tuple[str, str]:
    """(node, chromium), or skip the test (fail it with ``CI=true``) naming what is missing."""
    node = shutil.which("node")
    chromium = chromium_path()
    missing = []
    if node is None:
        missing.append("node")
    if chromium is None:
        missing.append("chromium (apt-get install chromium)")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        missing.append("playwright-core (cd tests/browser && npm ci)")
    if missing:
        message = "browser tests need " + ", ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert node is not None and chromium is not None
    return node, chromium


def _env(extra: dict[str, str], chromium: str, name: str) -> dict[str, str]:
    artifacts = ARTIFACTS / name
    artifacts.mkdir(parents=True, exist_ok=True)
    return {**os.environ, **extra, "HERALD_CHROMIUM": chromium,
            "HERALD_ARTIFACTS": str(artifacts), "HERALD_TIMEOUT_FACTOR": str(FACTOR)}


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            value: dict[str, Any] = json.loads(line)
            return value
    raise AssertionError(f"the scenario printed no JSON:\n{text[-3000:]}")


async def run_scenario(script: str, env: dict[str, str], timeout: float = 60.0,
                       name: str | None = None) -> dict[str, Any]:
    """Run tests/browser/``script`` to its end; its last JSON line. Fails on a non-zero exit
    or after ``timeout`` (scaled) seconds, with what it printed."""
    node, chromium = require_browser()
    proc = await asyncio.create_subprocess_exec(
        node, str(BROWSER_DIR / script), cwd=BROWSER_DIR,
        env=_env(env, chromium, name or Path(script).stem),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), scaled(timeout))
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"{script} did not finish in {scaled(timeout):.0f} s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise AssertionError(f"{script} exited {proc.returncode}:\n{text[-3000:]}\n"
                             f"{err.decode(errors='replace')[-3000:]}")
    return _last_json(text)


class Scenario:
    """A running scenario that answers commands; see :func:`scenario`."""

    def __init__(self, proc: asyncio.subprocess.Process, script: str) -> None:
        self.proc = proc
        self.script = script
        self.stderr: list[str] = []

    async def call(self, cmd: str, timeout: float = 30.0, **args: Any) -> dict[str, Any]:
        """Send ``{"cmd": cmd, **args}``; its answer (an ``"error"`` in it fails the test)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), scaled(timeout))
        except TimeoutError:
            raise AssertionError(f"{self.script}: no answer to {cmd} in "
                                 f"{scaled(timeout):.0f} s") from None
        if not line:
            err = b""
            if self.proc.stderr is not None:
                err = await self.proc.stderr.read()
            raise AssertionError(f"{self.script} ended during {cmd}:\n"
                                 f"{err.decode(errors='replace')[-3000:]}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise AssertionError(f"{self.script} {cmd}: {answer['error']}")
        return answer


@contextlib.asynccontextmanager
async def scenario(script: str, env: dict[str, str], name: str | None = None
                   ) -> AsyncIterator[Scenario]:
    """Start tests/browser/``script`` in command mode; it is closed (``{"cmd":"close"}``,
    then killed if it lingers) when the block ends."""
    node, chromium = require_browser()
    proc = await asyncio.create_subprocess_exec(
        node, str(BROWSER_DIR / script), cwd=BROWSER_DIR,
        env=_env(env, chromium, name or Path(script).stem),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, limit=2**24)
    running = Scenario(proc, script)
    try:
        yield running
    finally:
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                await running.call("close", timeout=10)
            try:
                await asyncio.wait_for(proc.wait(), scaled(10))
            except TimeoutError:
                proc.kill()
                await proc.wait()
