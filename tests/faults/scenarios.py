"""The faults, each injected once into a ledger run under steady load.

Each takes the stack and the ledger, breaks something, repairs it, and records how long the
pipeline took to deliver end to end again (``ledger.recover_seconds``). A fault that needs
its stack built differently (a RabbitMQ node of its own, the store on a small tmpfs, a
setting) says so in :data:`SETUPS`."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import subprocess
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from common.buffer.held import HeldBuffer
from common.models import notification_id
from common.redis_memory import read_memory
from tests.faults.ledger import Ledger
from tests.faults.stack import SERVICES, Stack
from tests.faults.workloads import Workload, put_preferences
from tests.support.metrics import metric
from tests.support.processes import Service
from tests.support.timing import eventually

__all__ = ["FAULTS", "SETUPS", "Setup", "redis_fsync_of", "setup_of"]

Fault = Callable[[Stack, Ledger], Coroutine[Any, Any, None]]


async def _recovered(ledger: Ledger, since: float) -> None:
    ledger.recover_seconds = await ledger.measure_recovery(since)


def sigkill(service: str) -> Fault:
    async def fault(stack: Stack, ledger: Ledger) -> None:
        since = time.monotonic()
        stack[service].kill()
        await asyncio.sleep(0.5)
        stack[service].spawn()
        await stack[service].wait_up(timeout=60)
        await _recovered(ledger, since)

    return fault


def sigterm(service: str) -> Fault:
    async def fault(stack: Stack, ledger: Ledger) -> None:
        since = time.monotonic()
        code = await stack[service].terminate()
        assert code == 0, f"{service} exited {code} on SIGTERM"
        stack[service].spawn()
        await stack[service].wait_up(timeout=60)
        await _recovered(ledger, since)

    return fault


async def _rabbitmqctl(*args: str) -> None:
    done = await asyncio.to_thread(subprocess.run, ["rabbitmqctl", *args], capture_output=True,
                                   timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-500:]


async def rabbitmq_restart(stack: Stack, ledger: Ledger) -> None:
    since = time.monotonic()
    await _rabbitmqctl("stop_app")
    await asyncio.sleep(2)
    await _rabbitmqctl("start_app")
    await _rabbitmqctl("await_startup")
    await _recovered(ledger, since)


def redis_restart(kill: bool) -> Fault:
    async def fault(stack: Stack, ledger: Ledger) -> None:
        since = time.monotonic()
        if kill:
            stack.redis.kill()
        else:
            stack.redis.stop()
        await asyncio.sleep(1)
        await stack.redis.start()
        await _recovered(ledger, since)

    return fault


async def store_outage(stack: Stack, ledger: Ledger) -> None:
    """The store refuses writes for 3 s: another connection holds an exclusive lock."""
    since = time.monotonic()

    def hold() -> None:
        db = sqlite3.connect(stack.store_path, timeout=10, isolation_level=None)
        try:
            db.execute("BEGIN EXCLUSIVE")
            time.sleep(3)
            db.execute("COMMIT")
        finally:
            db.close()

    await asyncio.to_thread(hold)
    await _recovered(ledger, since)


async def client_drops(stack: Stack, ledger: Ledger) -> None:
    since = time.monotonic()
    for client in list(ledger.clients.values())[::2]:
        await client.drop()
    await _recovered(ledger, since)


# --- full is a state, not a failure ---------------------------------------------------------

async def _holding(stack: Stack) -> bool | None:
    """The consumer's ``/readyz`` ``redisMemory.holding`` (``None`` before the first read)."""
    async with httpx.AsyncClient() as client:
        answer = await client.get(stack["consumer"].url + "/readyz", timeout=5)
    memory = answer.json().get("redisMemory")
    return None if memory is None else bool(memory["holding"])


FILL_BYTES = 300_000
"""How much the buffer grows while the users are away before Redis's ``maxmemory`` is set
at what it holds."""


async def redis_full(stack: Stack, ledger: Ledger) -> None:
    """The users go offline and their notifications pile up in the buffer; then Redis's
    ``maxmemory`` (``noeviction``) is set at what it holds: Redis is full and refuses writes.
    The consumer holds back (events wait in RabbitMQ). The users come back: the buffer drains
    by their ACKs although Redis is full, and the consumer resumes below its low-water mark."""
    since = time.monotonic()
    users = [ledger.clients[user] for user in ledger.users]
    await asyncio.gather(*(client.offline() for client in users))
    redis = Redis.from_url(stack.redis.url)
    try:
        base = (await read_memory(redis)).used

        await eventually(lambda: read_memory(redis), lambda m: m.used >= base + FILL_BYTES,
                         timeout=30)
        full = (await read_memory(redis)).used
        await redis.config_set("maxmemory", full)
        ballast: list[str] = []
        refusal: OutOfMemoryError | None = None
        for n in range(1000):  # Redis is full: a write outside the buffer's ways out fails
            key = f"fault:ballast:{n}"
            try:
                await redis.set(key, b"x" * 4096)
            except OutOfMemoryError as exc:
                refusal = exc
                break
            ballast.append(key)
        assert refusal is not None, f"Redis took {len(ballast)} ballast keys past maxmemory"
        if ballast:
            await redis.delete(*ballast)

        await eventually(lambda: _holding(stack), lambda held: held is True, timeout=30)
        # an event accepted now waits in RabbitMQ (the consumer's depth sampler sees it); to
        # the probe user, outside the ledger: owed nothing
        async with httpx.AsyncClient(base_url=stack["producer"].url,
                                     headers=stack.key_headers) as http:
            held = await http.post("/v1/events", timeout=10, json={
                "eventId": f"{ledger.run_id}-held", "type": "LIKE", "actorId": "held",
                "targetId": "probe", "postId": "held"})
        assert held.status_code == 202, held.text
        await eventually(lambda: metric(stack["consumer"], "herald_queue_messages",
                                        queue="notify"), lambda depth: depth > 0, timeout=30)
        for client in users:
            client.online()

        async def state() -> tuple[bool | None, dict[str, Any]]:
            return await _holding(stack), (await read_memory(redis)).as_dict()

        # resumed once the users drained the buffer (the memory is in the failure's message)
        await eventually(state, lambda found: found[0] is False, timeout=30)
    finally:
        await redis.aclose()
    await _recovered(ledger, since)


async def redis_evicting(stack: Stack, ledger: Ledger) -> None:
    """Redis is switched to ``allkeys-lru``: a second consumer started now is refused (exits
    non-zero, naming the setting). ``noeviction`` is set back, and it starts."""
    since = time.monotonic()
    redis = Redis.from_url(stack.redis.url)
    second = Service("consumer", stack.env, stack.workdir / "logs")
    try:
        await redis.config_set("maxmemory-policy", "allkeys-lru")
        second.spawn()
        proc = second.proc
        assert proc is not None
        try:
            code = await eventually(lambda: asyncio.sleep(0, proc.poll()),
                                    lambda found: found is not None, timeout=30)
        except AssertionError:
            second.kill()
            raise
        assert code != 0, f"the consumer exited {code} on an evicting Redis"
        logs = second.logs()
        assert "maxmemory-policy is allkeys-lru" in logs, logs[-2000:]
    finally:
        await redis.config_set("maxmemory-policy", "noeviction")
        await redis.aclose()
    second.spawn()
    stack.services["consumer-2"] = second
    await second.wait_up(timeout=60)
    await _recovered(ledger, since)


async def rabbitmq_memory_alarm(stack: Stack, ledger: Ledger) -> None:
    """The broker's memory alarm blocks publishers: the producer answers 503 (the ledger's
    sender retries the same eventId) until it clears."""
    node = stack.rabbitmq_node
    assert node is not None, "this fault runs on a RabbitMQ node of its own"
    since = time.monotonic()
    await node.memory_alarm(True)
    try:
        async with httpx.AsyncClient(base_url=stack["producer"].url,
                                     headers=stack.key_headers) as client:
            n = 0

            async def refused() -> bool:
                nonlocal n
                n += 1  # to the probe user, outside the ledger: owed nothing
                body = {"eventId": f"{ledger.run_id}-alarm-{n}", "type": "LIKE",
                        "actorId": "alarm", "targetId": "probe", "postId": f"alarm{n}"}
                answer = await client.post("/v1/events", json=body, timeout=10)
                return answer.status_code == 503

            await eventually(refused, lambda yes: yes, timeout=30)
        # the ledger's own sender meets it too (and retries the same eventId)
        before = ledger.refused
        await eventually(lambda: asyncio.sleep(0, ledger.refused),
                         lambda refusals: refusals > before, timeout=30)
    finally:
        await node.memory_alarm(False)
    await _recovered(ledger, since)


async def store_disk_full(stack: Stack, ledger: Ledger) -> None:
    """The store's file system (a small tmpfs) fills up: every write fails with "database or
    disk is full". Then it grows (remounted bigger)."""
    since = time.monotonic()
    mount = stack.store_path.parent

    def fill() -> None:
        chunk = b"\0" * 65536
        with open(mount / "ballast", "wb", buffering=0) as ballast:
            for _ in range(10_000):
                try:
                    ballast.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
            else:
                raise AssertionError(f"{mount} took 640 MB: not a small tmpfs")
            for size in (4096, 512):  # the last pages too
                while True:
                    try:
                        ballast.write(b"\0" * size)
                    except OSError:
                        break

    await asyncio.to_thread(fill)
    try:
        persister = stack["persister"]

        await eventually(lambda: asyncio.sleep(0, "database or disk is full" in persister.logs()),
                         lambda met: met, timeout=30)
        # it keeps trying (and failing) to store them: nothing acknowledged is dropped
        tries = await metric(persister, "herald_persist_retries_total", operation="store")
        await eventually(lambda: metric(persister, "herald_persist_retries_total",
                                        operation="store"), lambda n: n >= tries + 2,
                         timeout=30)
    finally:
        done = await asyncio.to_thread(
            subprocess.run, ["mount", "-o", "remount,size=64m", str(mount)],
            capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr.decode()[-500:]
    await _recovered(ledger, since)


# --- issue 19's paths: quiet hours, digests, preferences -------------------------------------

async def _kill_consumer(stack: Stack, ledger: Ledger) -> None:
    """SIGKILL the consumer (its muted count read first, for the ledger's sum over lives)."""
    if ledger.workload.muted_users(ledger.users):
        ledger.muted_lives.append(await ledger.muted_count())
    stack["consumer"].kill()


async def _held_of(held: HeldBuffer, users: list[str]) -> set[str]:
    found: set[str] = set()
    for user in users:
        found.update(entry.notification_id for entry in await held.of_user("default", user))
    return found


async def held_through_restarts(stack: Stack, ledger: Ledger) -> None:
    """The quiet users' events are held. While held: the consumer is SIGKILLed, redis-server
    is SIGKILLed, Redis comes back from its append-only file, the consumer is started again.
    Once the stream is over and every accepted event of a quiet user is held (none shown),
    their quiet hours are ended through the producer's API, which moves their held
    notifications to now; as the releases begin, the consumer is SIGKILLed once more (its
    claims lapse, the next one takes them again). The ledger then wants every one stored."""
    quiet = ledger.workload.quiet_users(ledger.users)
    redis = Redis.from_url(stack.redis.url)
    held = HeldBuffer(redis, stack.names.keys)
    try:
        await eventually(held.count, lambda n: n > 0, timeout=30)
        since = time.monotonic()
        await _kill_consumer(stack, ledger)
        stack.redis.kill()
        await asyncio.sleep(1)
        await stack.redis.start()
        stack["consumer"].spawn()
        await stack["consumer"].wait_up(timeout=60)
        await _recovered(ledger, since)

        await asyncio.wait_for(ledger.sent.wait(), timeout=ledger.deadline)
        owed = {notification_id("default", event_id, user)
                for event_id, user in ledger.accepted.items() if user in quiet}

        async def missing() -> int:
            return len(owed - await _held_of(held, quiet))

        await eventually(missing, lambda n: n == 0, timeout=60)
        ledger.held_ids = await _held_of(held, quiet)
        shown = {user: len(ledger.clients[user].seen) for user in quiet}
        assert not any(shown.values()), f"shown during quiet hours: {shown}"

        async with httpx.AsyncClient(base_url=stack["producer"].url,
                                     headers=stack.key_headers) as api:
            for user in quiet:
                await put_preferences(api, user, {"types": {}, "quietHours": None})
        total = await held.count()

        async def releasing() -> tuple[int, dict[str, float]]:
            outcomes = {outcome: await metric(stack["consumer"],
                                              "herald_consumer_release_outcomes_total",
                                              outcome=outcome)
                        for outcome in ("made", "held_again", "muted", "duplicate")}
            return await held.count(), outcomes

        await eventually(releasing, lambda found: found[0] < total, timeout=30)
        await _kill_consumer(stack, ledger)
        stack["consumer"].spawn()
        await stack["consumer"].wait_up(timeout=60)
    finally:
        await redis.aclose()


async def consumer_killed_mid_stream(stack: Stack, ledger: Ledger) -> None:
    """``sigkill-consumer`` for the digest and preferences workloads."""
    since = time.monotonic()
    await _kill_consumer(stack, ledger)
    await asyncio.sleep(0.5)
    stack["consumer"].spawn()
    await stack["consumer"].wait_up(timeout=60)
    await _recovered(ledger, since)


@dataclass(frozen=True)
class Setup:
    """How a fault's stack is built, beyond the defaults."""

    redis_fsync: str = "everysec"
    env: dict[str, str] = field(default_factory=dict)
    own_rabbitmq: bool = False
    """A RabbitMQ node of the fault's own (the shared one is never put in an alarm)."""
    store_tmpfs: str | None = None
    """The store on a tmpfs of this size (``mount -t tmpfs -o size=...``)."""
    workload: Workload = field(default_factory=Workload)
    """What the ledger sends to whom, and what the users set first
    (:mod:`tests.faults.workloads`)."""
    most_events: int | None = None
    most_rate: float | None = None
    """Caps on the run's events and rate: a fault sized to a small Redis runs at most this
    much (the full table's 3000 at 300/s would not fit ``redis-full-noeviction``'s few MB)."""


FAULTS: dict[str, Fault] = {
    **{f"sigkill-{s}": sigkill(s) for s in SERVICES},
    **{f"sigterm-{s}": sigterm(s) for s in SERVICES},
    "rabbitmq-stop-start-app": rabbitmq_restart,
    "redis-sigkill-aof-everysec": redis_restart(kill=True),
    "redis-sigkill-aof-always": redis_restart(kill=True),
    "redis-restart-aof-everysec": redis_restart(kill=False),
    "store-locked-3s": store_outage,
    "client-drops-and-reconnects": client_drops,
    "redis-full-noeviction": redis_full,
    "redis-evicting-refused": redis_evicting,
    "rabbitmq-memory-alarm": rabbitmq_memory_alarm,
    "store-disk-full": store_disk_full,
    "held-through-restarts": held_through_restarts,
    "digest-under-restart": consumer_killed_mid_stream,
    "preferences-under-restart": consumer_killed_mid_stream,
}

SETUPS: dict[str, Setup] = {
    "redis-sigkill-aof-always": Setup(redis_fsync="always"),
    # Big notifications fill Redis fast; no per-user cap frees it, only the users' ACKs.
    "redis-full-noeviction": Setup(
        env={"MAX_PENDING_PER_USER": "1000000", "HERALD_REDIS_HIGH_WATER": "0.95",
             "HERALD_REDIS_LOW_WATER": "0.9", "TRACE_TTL_SECONDS": "0",
             "TRIM_INTERVAL_SECONDS": "1"},
        workload=Workload(text_bytes=2000), most_events=1000, most_rate=150.0),
    "rabbitmq-memory-alarm": Setup(own_rabbitmq=True),
    "store-disk-full": Setup(store_tmpfs="3m"),
    # Three of the ten users in quiet hours; releases in small batches, so the second kill
    # meets some claimed and not yet made (their claims lapse after 10 s).
    "held-through-restarts": Setup(
        env={"HERALD_RELEASE_INTERVAL_SECONDS": "0.2", "HERALD_RELEASE_BATCH": "20",
             "HERALD_RELEASE_CLAIM_SECONDS": "10"},
        workload=Workload(quiet=3)),
    # Ten users, three posts each: 30 digests of many likes.
    "digest-under-restart": Setup(workload=Workload(digest_posts=3)),
    # Three of the ten users turned LIKE off.
    "preferences-under-restart": Setup(workload=Workload(muted=3)),
}


def setup_of(name: str) -> Setup:
    return SETUPS.get(name, Setup())


def redis_fsync_of(name: str) -> str:
    """The append-only fsync policy a fault's own redis-server runs with."""
    return setup_of(name).redis_fsync
