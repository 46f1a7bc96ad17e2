"""Run every Herald service as a child process on this machine; Ctrl-C (or SIGTERM) stops
them all with SIGTERM, so each drains, and exits once they have.

Started by ``deploy/run-local.sh``. Each service keeps its own settings from the environment;
this only picks the defaults a single machine wants and prints where things are.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import jwt

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"producer": 8000, "consumer": 8002, "ws_gateway": 8001, "persister": 8003}
TOKEN_HOURS = 12


def demo_token(secret: str, user: str) -> str:
    claims = {"sub": user, "tid": "default", "exp": int(time.time()) + TOKEN_HOURS * 3600}
    return jwt.encode(claims, secret, algorithm="HS256")


SEND = (
    "  Send one as alice:\n"
    "    curl -s -XPOST localhost:8000/v1/events \\\n"
    "         -d '{\"type\":\"LIKE\",\"actorId\":\"alice\",\"targetId\":\"bob\","
    "\"postId\":\"p1\"}'\n"
)


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def console_lines(env: dict[str, str]) -> str:
    """Where the operator's console is, and the admin key to paste into it (this run's)."""
    key = env.get("ADMIN_API_KEY")
    if not key:
        return "  Operator console: http://127.0.0.1:8000/console (set ADMIN_API_KEY to use it)\n"
    return ("  Operator console: http://127.0.0.1:8000/console\n"
            f"    admin key to paste:       {key}\n")


def banner(env: dict[str, str]) -> str:
    """What to try now, for the mode the services run in: JWT (a token for bob, the AUTH frame
    with it) or trusted (no token anywhere: a bare userId identifies, the read API is open);
    and the console with its admin key, in both."""
    redis = _without_password(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    if env["AUTH_MODE"] == "trusted":
        return (
            "\nHerald is running in AUTH_MODE=trusted (demo only: anyone may claim any user).\n"
            "  Watch bob's notifications:  http://127.0.0.1:8000/demo#user=bob\n"
            + SEND +
            "  bob's history (the read API is open in this mode):\n"
            "    curl -s localhost:8000/v1/users/bob/notifications\n"
            "  WebSocket: ws://127.0.0.1:8001/ws, "
            "first frame {\"type\":\"AUTH\",\"userId\":\"bob\"}\n"
            + console_lines(env) +
            f"  Redis: {redis}\n"
            "Ctrl-C stops everything."
        )
    token = demo_token(env["JWT_SECRET"], "bob") if env.get("JWT_SECRET") else None
    if token is None:  # RS256 (JWT_PUBLIC_KEY): this script cannot sign tokens
        watch = "http://127.0.0.1:8000/demo#user=bob&token=<a JWT for bob>"
        token_line = "  bob's token: sign one with your RS256 private key (sub=bob)\n"
        token = "$TOKEN"
    else:
        watch = f"http://127.0.0.1:8000/demo#user=bob&token={token}"
        token_line = f"  bob's token ({TOKEN_HOURS} h):       {token}\n"
    return (
        "\nHerald is running.\n"
        f"  Watch bob's notifications:  {watch}\n"
        + token_line + SEND +
        "  bob's history:\n"
        f"    curl -s -H \"Authorization: Bearer {token}\" "
        "localhost:8000/v1/users/bob/notifications\n"
        "  WebSocket: ws://127.0.0.1:8001/ws, first frame {\"type\":\"AUTH\",\"token\":…}\n"
        + console_lines(env) +
        f"  Redis: {redis}\n"
        "Ctrl-C stops everything."
    )


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
    # One machine: a fresh HS256 secret per run unless one is given, the SQLite store.
    env.setdefault("AUTH_MODE", "jwt")
    if env["AUTH_MODE"] == "jwt" and not env.get("JWT_PUBLIC_KEY"):
        env.setdefault("JWT_SECRET", secrets.token_urlsafe(32))
    env.setdefault("STORE_URL", f"sqlite:///{ROOT / 'var' / 'herald.db'}")
    # The operator's console (/console): a fresh admin key per run unless one is given.
    env.setdefault("ADMIN_API_KEY", secrets.token_urlsafe(32))
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
        if not (ROOT / name / "__main__.py").exists():
            continue
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
        print(banner(env))
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
