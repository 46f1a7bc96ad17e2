"""``deploy/run-local.sh``'s pieces: Herald's own Redis (deploy/herald-redis.sh) persists and
a Redis that does not is refused; the printout fits the auth mode.

The Redis here is a real ``redis-server`` on a free port with its files in a temporary
directory; every test stops what it started (SHUTDOWN, then the pid file's process)."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import jwt
import pytest
import redis

from tests.support.processes import ROOT, free_port
from tests.support.timing import scaled

pytestmark = pytest.mark.integration

PRELUDE = ("set -euo pipefail; step() { :; }; die() { printf '!!! %s\\n' \"$*\" >&2; exit 1; }; "
           "source deploy/herald-redis.sh; ")


def bash(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", PRELUDE + script], cwd=ROOT, capture_output=True,
                          text=True, timeout=scaled(30), check=False)


@pytest.fixture
def redis_dir(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    directory, port = tmp_path / "redis", free_port()
    yield directory, port
    bash(f"herald_redis_stop {port}")
    pidfile = directory / "redis.pid"
    if pidfile.exists():  # SHUTDOWN did not take: stop the one process this test started
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def test_heralds_redis_keeps_its_data_across_a_restart(
    redis_dir: tuple[Path, int], tmp_path: Path
) -> None:
    directory, port = redis_dir
    start = f"herald_redis_start {directory} {port} {tmp_path / 'redis.log'}"
    first = bash(start)
    assert first.returncode == 0, first.stderr
    client = redis.Redis(port=port, decode_responses=True)
    try:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("dir")["dir"] == str(directory)
        client.set("buffered", "a notification")
        assert "already running" in bash(start).stdout  # a second start reuses it
        assert bash(f"herald_redis_stop {port}").returncode == 0
        again = bash(start)
        assert again.returncode == 0 and "started" in again.stdout, again.stderr
        assert client.get("buffered") == "a notification"
    finally:
        client.close()


def test_a_redis_without_persistence_is_refused(tmp_path: Path) -> None:
    port = free_port()
    volatile = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + scaled(10)
        while True:  # until it answers (or the deadline fails the test)
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()
        refused = bash(f"herald_redis_check redis://127.0.0.1:{port}/0")
        assert refused.returncode == 1
        assert "keeps nothing on disk" in refused.stderr and "appendonly" in refused.stderr
        reused = bash(f"herald_redis_start {tmp_path} {port} {tmp_path / 'r.log'}")
        assert reused.returncode == 1 and "keeps nothing on disk" in reused.stderr
    finally:
        volatile.terminate()
        volatile.wait(scaled(10))


def _supervise() -> ModuleType:
    spec = importlib.util.spec_from_file_location("supervise", ROOT / "deploy" / "supervise.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_printout_fits_the_auth_mode() -> None:
    supervise = _supervise()
    trusted = supervise.banner({"AUTH_MODE": "trusted",
                                "REDIS_URL": "redis://:hunter2@127.0.0.1:6380/0"})
    assert "token" not in trusted.lower() and "Bearer" not in trusted
    assert '{"type":"AUTH","userId":"bob"}' in trusted and "/demo#user=bob\n" in trusted
    assert "hunter2" not in trusted

    secret = "s" * 40
    key = "hk_0123456789ab_" + "k" * 43
    signed = supervise.banner({"AUTH_MODE": "jwt", "JWT_SECRET": secret}, key)
    token = signed.split("token=", 1)[1].split()[0].split("&")[0]
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert (claims["sub"], claims["tid"]) == ("bob", "demo")
    assert f"Bearer {token}" in signed and '"AUTH","token"' in signed
    assert f'-H "X-API-Key: {key}"' in signed and "/v1/tokens" in signed
    assert "X-API-Key" not in trusted and "/v1/tokens" not in trusted


def test_the_demo_key_is_made_in_the_store_and_works(tmp_path: Path) -> None:
    supervise = _supervise()
    env = {**os.environ, "STORE_URL": f"sqlite:///{tmp_path}/herald.db"}
    first, second = supervise.make_demo_key(env), supervise.make_demo_key(env)
    assert first and second and first != second and first.startswith("hk_")
    listed = subprocess.run([sys.executable, "-m", "producer.admin", "keys", "list", "demo"],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert listed.stdout.count('"keyId"') == 2 and first not in listed.stdout


def test_the_printout_gives_the_console_and_its_admin_key() -> None:
    supervise = _supervise()
    key = "k" * 43
    for mode in ("trusted", "jwt"):
        printed = supervise.banner({"AUTH_MODE": mode, "JWT_SECRET": "s" * 40,
                                    "ADMIN_API_KEY": key}, "hk_0123456789ab_" + "x" * 43)
        assert "http://127.0.0.1:8000/console\n" in printed and f"paste:       {key}" in printed
    assert "set ADMIN_API_KEY" in supervise.banner({"AUTH_MODE": "trusted"})
