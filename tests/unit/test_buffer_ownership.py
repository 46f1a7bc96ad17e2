"""The done-when of issue 11, as a test: no Redis key string, member format, Lua script or
Redis data command exists outside the buffer's owner (:mod:`common.buffer`). The services
call its API; this scans their source and fails naming the file and line of anything else.

The operator's telemetry (:mod:`common.telemetry`: replica stats, presence, trace marks) is the
one other owner of Redis keys: issue 17 moved it out of ``common/buffer`` so that the buffer's
floor does not reach up to settings and naming. Its keys are still spelt in one module
(``common/telemetry/keys.py``), and its one script (``trace.lua``) stays with the buffer's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("common", "consumer", "ws_gateway", "persister", "producer")
OWNER = ROOT / "common" / "buffer"
OWNERS = (OWNER, ROOT / "common" / "telemetry")

FORBIDDEN = {
    "Lua": re.compile(r"redis\.call|register_script|evalsha|script_load|[\"']EVALSHA|\.eval\("),
    "a key built from the prefix": re.compile(r"prefix\}:|prefix\}\.persisters"),
    "a key segment": re.compile(
        r"[\"'f]:(pending|order|seen|sem|erased|live|rl|tb|expiry|erasures|persist|sweeper)"
        r"[:\"'{]"),
    "a member format": re.compile(r"\}\|\{"),
    "a Redis data command": re.compile(
        r"\.(xadd|xrange|xrevrange|xdel|xack|xreadgroup|xautoclaim|xtrim|xlen|xinfo_groups|"
        r"hget|hmget|hset|hdel|hgetall|hkeys|zadd|zrem|zrange|zrangebyscore|zrevrangebyscore|"
        r"zcard|zscore|zmscore|zremrangebyscore|scan_iter|pipeline|execute_command)\("),
}


def _sources() -> list[Path]:
    files: list[Path] = []
    for top in SCANNED:
        files.extend(p for p in (ROOT / top).rglob("*.py")
                     if not any(owner in p.parents for owner in OWNERS))
    return sorted(files)


def test_the_scan_sees_the_services() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"consumer/pipeline.py", "ws_gateway/handler.py", "persister/sweeper.py",
            "producer/reads/history.py", "common/erasure.py"} <= names


def test_the_patterns_catch_what_they_are_for() -> None:
    samples = {
        "Lua": "self._redis.register_script(LUA)",
        "a key built from the prefix": 'f"{self.prefix}:pending:{tag}"',
        "a key segment": 'key = base + ":expiry"',
        "a member format": 'f"{tenant}|{user}"',
        "a Redis data command": "await self._redis.hget(key, field)",
    }
    for what, sample in samples.items():
        assert FORBIDDEN[what].search(sample), what


def test_no_redis_schema_outside_the_owner() -> None:
    found = []
    for path in _sources():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for what, pattern in FORBIDDEN.items():
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()}")
    assert not found, "Redis schema outside common/buffer:\n" + "\n".join(found)


def test_every_script_lives_in_the_owner_as_a_lua_file() -> None:
    scripts = sorted(p.stem for p in (OWNER / "scripts").glob("*.lua"))
    assert scripts == ["ack", "admit", "buffer", "claim", "digest", "done", "erase", "expire",
                       "fanout_begin", "fanout_cancel", "fanout_claim", "fanout_page",
                       "fold", "hold", "index_erasure", "lease", "move", "newest", "release",
                       "replay", "take", "trace", "unhold"]


def test_exactly_the_ways_out_of_the_buffer_run_on_a_full_redis() -> None:
    """``allow-oom`` on the scripts that free more than they write (a full buffer must drain:
    docs/DESIGN.md 3.3), never on the ones that fill it (the consumer must be refused)."""
    flagged = sorted(p.stem for p in (OWNER / "scripts").glob("*.lua")
                     if p.read_text().startswith("#!lua flags=allow-oom\n"))
    assert flagged == ["ack", "claim", "done", "erase", "expire", "fold", "index_erasure",
                       "lease", "move", "release", "unhold"]
