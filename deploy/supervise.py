"""Run every Herald service as a child process on this machine; Ctrl-C (or SIGTERM) stops
them all with SIGTERM, so each drains, and exits once they have.

Started by ``deploy/run-local.sh``. Each service keeps its own settings from the environment;
this only picks the defaults a single machine wants and prints where things are.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"producer": 8000, "consumer": 8002}


def wait_healthy(port: int, proc: subprocess.Popen[bytes], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def main() -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    logdir = ROOT / "var" / "log"
    logdir.mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    for name, port in SERVICES.items():
        with open(logdir / f"{name}.log", "ab") as log:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", name], cwd=ROOT, env={**env, "PORT": str(port)},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        if not wait_healthy(port, procs[name]):
            print(f"{name} did not start; see {logdir / (name + '.log')}", file=sys.stderr)
            stopping = True
            break
        print(f"  {name:<10} http://127.0.0.1:{port}   (log: var/log/{name}.log)")

    if not stopping:
        print(
            "\nHerald is running. Try:\n"
            "  curl -s -XPOST localhost:8000/v1/events -H 'content-type: application/json' \\\n"
            "       -d '{\"type\":\"LIKE\",\"actorId\":\"alice\",\"targetId\":\"bob\","
            "\"postId\":\"p1\"}'\n"
            "  redis-cli hgetall 'herald:pending:{default:bob}'\n"
            "Ctrl-C stops everything."
        )
    while not stopping and all(p.poll() is None for p in procs.values()):
        time.sleep(0.2)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes = {}
    for name, proc in procs.items():
        try:
            codes[name] = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            codes[name] = proc.wait()
    print("stopped: " + ", ".join(f"{n} exit {c}" for n, c in codes.items()))
    return 0 if all(c == 0 for c in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
