"""Run every Herald service as a child process on this machine; Ctrl-C (or SIGTERM) stops
them all with SIGTERM, so each drains, and exits once they have.

Started by ``deploy/run-local.sh``. Each service keeps its own settings from the environment;
this only picks the defaults a single machine wants and prints where things are. In ``jwt``
mode it also makes the tenant ``demo`` (if missing) and a fresh API key of it
(``python -m producer.admin``, on the store the producer reads), sets a bootstrap
``ADMIN_API_KEY`` unless one is given, and prints the key with a curl example and how to mint
a user token. Keys go to this terminal only, never to the services' logs.
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
import orjson

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"producer": 8000, "consumer": 8002, "ws_gateway": 8001, "persister": 8003}
TOKEN_HOURS = 12
DEMO_TENANT = "demo"
DEMO_SCOPES = "events:write,notifications:read,tokens:write"


def demo_token(secret: str, user: str, tenant: str = "default") -> str:
    claims = {"sub": user, "tid": tenant, "exp": int(time.time()) + TOKEN_HOURS * 3600}
    return jwt.encode(claims, secret, algorithm="HS256")


def send(key: str | None = None) -> str:
    """The curl line that sends a LIKE for bob (with the API key in ``jwt`` mode)."""
    header = f"-H \"X-API-Key: {key}\" " if key else ""
    return (
        "  Send one as alice:\n"
        f"    curl -s -XPOST localhost:8000/v1/events {header}\\\n"
        "         -d '{\"type\":\"LIKE\",\"actorId\":\"alice\",\"targetId\":\"bob\","
        "\"postId\":\"p1\"}'\n"
    )


def make_demo_key(env: dict[str, str]) -> str | None:
    """A new key of tenant ``demo`` (made if missing) in the store ``env`` names; ``None``
    (and a line on stderr) when the CLI fails."""
    command = [sys.executable, "-m", "producer.admin"]
    subprocess.run([*command, "tenants", "create", DEMO_TENANT], cwd=ROOT, env=env,
                   capture_output=True, check=False)  # exit 1 when it exists: fine
    made = subprocess.run([*command, "keys", "create", DEMO_TENANT, "--scopes", DEMO_SCOPES,
                           "--name", "run-local"], cwd=ROOT, env=env, capture_output=True,
                          check=False)
    if made.returncode != 0:
        print(f"no demo key made: {made.stderr.decode(errors='replace').strip()}",
              file=sys.stderr)
        return None
    key: str = orjson.loads(made.stdout)["key"]
    return key


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def console_lines(env: dict[str, str]) -> str:
    """Where the operator's console is, and the admin key to paste into it (this run's)."""
    admin = env.get("ADMIN_API_KEY")
    if not admin:
        return "  Operator console: http://127.0.0.1:8000/console (set ADMIN_API_KEY to use it)\n"
    return ("  Operator console: http://127.0.0.1:8000/console\n"
            f"    admin key to paste:       {admin}\n")


def banner(env: dict[str, str], key: str | None = None) -> str:
    """What to try now, for the mode the services run in: JWT (the tenant ``demo``'s API key,
    a token for bob, the AUTH frame with it, how to mint tokens) or trusted (no key or token
    anywhere: a bare userId identifies, ingest and the read API are open); and the console
    with its admin key, in both."""
    redis = _without_password(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    if env["AUTH_MODE"] == "trusted":
        return (
            "\nHerald is running in AUTH_MODE=trusted (demo only: anyone may claim any user).\n"
            "  Watch bob's notifications:  http://127.0.0.1:8000/demo#user=bob\n"
            + send() +
            "  bob's history (the read API is open in this mode):\n"
            "    curl -s localhost:8000/v1/users/bob/notifications\n"
            "  WebSocket: ws://127.0.0.1:8001/ws, "
            "first frame {\"type\":\"AUTH\",\"userId\":\"bob\"}\n"
            + console_lines(env) +
            f"  Redis: {redis}\n"
            "Ctrl-C stops everything."
        )
    tenant = DEMO_TENANT if key else "default"
    token = demo_token(env["JWT_SECRET"], "bob", tenant) if env.get("JWT_SECRET") else None
    if token is None:  # RS256 (JWT_PUBLIC_KEY): this script cannot sign tokens
        watch = "http://127.0.0.1:8000/demo#user=bob&token=<a JWT for bob>"
        token_line = "  bob's token: sign one with your RS256 private key (sub=bob)\n"
        token = "$TOKEN"
    else:
        watch = f"http://127.0.0.1:8000/demo#user=bob&token={token}" + \
            (f"&key={key}" if key else "")
        token_line = f"  bob's token ({TOKEN_HOURS} h):       {token}\n"
    key_lines = (
        f"  Tenant {DEMO_TENANT!r}, its API key ({DEMO_SCOPES}; shown once, keep it):\n"
        f"    {key}\n"
        "  Mint a user token for bob (what your backend does for its app):\n"
        f"    curl -s -XPOST localhost:8000/v1/tokens -H \"X-API-Key: {key}\" \\\n"
        "         -d '{\"userId\":\"bob\"}'\n"
        "  Manage tenants and keys: python -m producer.admin --help "
        "(or /v1/admin/ with ADMIN_API_KEY)\n"
    ) if key else "  No API key was made: see python -m producer.admin --help\n"
    return (
        "\nHerald is running.\n"
        f"  Watch bob's notifications:  {watch}\n"
        + key_lines + token_line + send(key or "<API key>") +
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
    # The admin API and the operator's console (/console): a fresh key per run unless given.
    env.setdefault("ADMIN_API_KEY", secrets.token_urlsafe(32))
    key = None
    if env["AUTH_MODE"] == "jwt":
        key = make_demo_key(env)
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
        print(banner(env, key))
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
