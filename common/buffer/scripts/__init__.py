"""Every atomic operation on the buffer as one Lua script (the ``*.lua`` files beside this
module), and the one way they run: ``EVALSHA``, pipelined with whatever else the same round
trip carries, with ``SCRIPT LOAD`` and a retry of just the calls Redis answered ``NOSCRIPT``
(a restarted or flushed Redis).

Why not redis-py's ``register_script``: its objects ask ``SCRIPT EXISTS`` before every
pipelined call, a round trip each. Why retry only the ``NOSCRIPT`` calls: the others ran, and
running an ACK twice would lose its answer (the second run finds nothing pending).

Every script's header comment says its keys, arguments and reply; ``docs/DESIGN.md`` lists
them with the slot rule.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

__all__ = [
    "ACK",
    "ADMIT",
    "BUFFER",
    "CLAIM",
    "DIGEST",
    "DONE",
    "ERASE",
    "EXPIRE",
    "FANOUT_BEGIN",
    "FANOUT_CANCEL",
    "FANOUT_CLAIM",
    "FANOUT_PAGE",
    "FOLD",
    "HOLD",
    "INDEX_ERASURE",
    "LEASE",
    "MOVE",
    "NEWEST",
    "RELEASE",
    "REPLAY",
    "SCRIPTS",
    "TAKE",
    "TRACE",
    "UNHOLD",
    "RoundTrip",
    "Script",
    "call",
]


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    text: str
    sha: str


def _load(name: str) -> Script:
    text = files(__package__).joinpath(f"{name}.lua").read_text(encoding="utf-8")
    return Script(name, text, hashlib.sha1(text.encode()).hexdigest())


ADMIT = _load("admit")
BUFFER = _load("buffer")
ACK = _load("ack")
EXPIRE = _load("expire")
REPLAY = _load("replay")
NEWEST = _load("newest")
LEASE = _load("lease")
RELEASE = _load("release")
ERASE = _load("erase")
FOLD = _load("fold")
INDEX_ERASURE = _load("index_erasure")
TAKE = _load("take")
TRACE = _load("trace")
HOLD = _load("hold")
CLAIM = _load("claim")
DONE = _load("done")
MOVE = _load("move")
UNHOLD = _load("unhold")
DIGEST = _load("digest")
FANOUT_BEGIN = _load("fanout_begin")
FANOUT_CLAIM = _load("fanout_claim")
FANOUT_PAGE = _load("fanout_page")
FANOUT_CANCEL = _load("fanout_cancel")
SCRIPTS = (ADMIT, BUFFER, ACK, EXPIRE, REPLAY, NEWEST, LEASE, RELEASE, ERASE, FOLD,
           INDEX_ERASURE, TAKE, TRACE, HOLD, CLAIM, DONE, MOVE, UNHOLD, DIGEST, FANOUT_BEGIN,
           FANOUT_CLAIM, FANOUT_PAGE, FANOUT_CANCEL)


@dataclass
class RoundTrip:
    """Calls (scripts and plain commands) sent together: one pipeline, one round trip (two
    when Redis lost its scripts). Not a transaction: each call is atomic on its own. When
    Redis lost its scripts, the script calls run again, in order, after the reload — after
    every plain command of the trip: a plain command must not depend on a script queued
    before it (read a script's effect in a later round trip)."""

    _calls: list[tuple[Script | None, tuple[Any, ...]]] = field(default_factory=list)

    def script(self, script: Script, keys: list[str], args: list[Any]) -> int:
        """Queue a script call; its position in the reply list."""
        self._calls.append((script, (len(keys), *keys, *args)))
        return len(self._calls) - 1

    def command(self, *words: Any) -> int:
        """Queue a plain command (e.g. ``"ZADD", key, ...``); its position in the replies."""
        self._calls.append((None, words))
        return len(self._calls) - 1

    def __len__(self) -> int:
        return len(self._calls)

    async def run(self, redis: Redis, deadline: float = 5.0) -> list[Any]:
        """Every call's reply, in order; a call that failed has its exception in its place
        (the caller decides). Raises only if the round trip itself failed (connection,
        ``deadline`` seconds for the whole of it): then any call may or may not have run."""
        if not self._calls:
            return []
        async with asyncio.timeout(deadline):
            replies = await _send(redis, self._calls)
            missing = [n for n, r in enumerate(replies) if isinstance(r, NoScriptError)]
            if missing:
                for script in {self._calls[n][0] for n in missing}:
                    if script is not None:
                        await redis.script_load(script.text)
                again = await _send(redis, [self._calls[n] for n in missing])
                for n, reply in zip(missing, again, strict=True):
                    replies[n] = reply
        return replies

    async def one(self, redis: Redis, deadline: float = 5.0) -> Any:
        """The reply of a round trip of one call; raises its error."""
        [reply] = await self.run(redis, deadline)
        if isinstance(reply, Exception):
            raise reply
        return reply


async def _send(redis: Redis, calls: list[tuple[Script | None, tuple[Any, ...]]]) -> list[Any]:
    async with redis.pipeline(transaction=False) as pipe:
        for script, words in calls:
            if script is None:
                pipe.execute_command(*words)
            else:
                pipe.execute_command("EVALSHA", script.sha, *words)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    return replies


async def call(redis: Redis, script: Script, keys: list[str], args: list[Any],
               deadline: float = 5.0) -> Any:
    """One script, one round trip; raises its error."""
    trip = RoundTrip()
    trip.script(script, keys, args)
    return await trip.one(redis, deadline)
