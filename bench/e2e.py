"""End to end, open loop: ``N`` WebSocket clients (one user each, ACKing every notification
as it arrives) and ``R`` events per second for ``D`` seconds posted at them, each for one
user (round robin) or, with ``--recipients K``, for ``K`` users at once (``targetIds``: the
K clients then receive and ACK together, a burst).

Open loop: event ``i`` is due at ``t0 + i / R`` whatever happened to the ones before, so a
slow system shows as growing latency instead of a slower sender. Up to
``--http-connections`` POSTs are in flight; an event that finds none free waits, and that
wait is reported as ``send_lag_ms`` (the tool or the producer falling behind the schedule).

Measured: POST latency (request written → answer read); delivery latency (request written
→ the NOTIFICATION frame read by its client; the notification is matched to its POST by
``eventId``, or ``postId`` on the seed's surface); accepted events not delivered within
``--deadline`` seconds after the last POST (``lost``); notifications seen twice by one
client (``repeats``; a client the gateway closes reconnects, as an app would, and gets
what it had not acked again). On Herald's protocol the clients are Herald's Python client
(``clients/python``), which batches ACKs and hides such repeats from the app (counted all
the same); on the seed's, a bare client. With Herald started here, it then waits for the
persister to have stored every ACK (``persisted``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import time
from collections import Counter
from typing import Any

import orjson
from herald_client import HeraldClient
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.clients import close_all, open_clients, open_one
from bench.http import Connection, HttpError, split_url
from bench.procstat import ProcSampler
from bench.results import percentiles
from bench.seed import make_token
from bench.target import Target, counter_sum, open_target

__all__ = ["run_e2e"]

MODULES = ("persister", "consumer", "producer", "ws_gateway")


class Tally:
    """What the clients saw: first arrival per event key, repeats, ACKs sent, closes."""

    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}
        self.accepted: set[str] = set()
        self.targets: dict[str, list[str]] = {}
        self.received_at: dict[tuple[str, str], float] = {}
        self.repeats = 0
        self.acks = 0
        self.ack_retries = 0
        self.closes: Counter[str] = Counter()
        self.reconnects = 0
        self.stopping = False
        self.all_seen = asyncio.Event()
        self.expected = -1


class _User:
    """One client app: reads, ACKs each notification, and reconnects (at most
    ``MAX_RECONNECTS`` times) when the gateway closes it, as an app would: everything it had
    not acked is replayed then, so a notification may be seen twice (a repeat)."""

    def __init__(self, ws: ClientConnection, user: str) -> None:
        self.ws = ws
        self.user = user
        self.seen: set[str] = set()


MAX_RECONNECTS = 5


async def _client(client: _User, target: Target, tally: Tally) -> None:
    protocol = target.protocol
    for _ in range(MAX_RECONNECTS + 1):
        try:
            async for data in client.ws:
                now = time.perf_counter()
                frame = orjson.loads(data)
                if frame.get("type") == "ERROR" and frame.get("code") == "TRY_AGAIN":
                    # The gateway could not record an ACK: send it again, as an app would.
                    tally.ack_retries += 1
                    await asyncio.sleep(0.1)  # Redis is away: not in a tight loop
                    await client.ws.send(protocol.ack_frame(frame.get("notificationIds", [])))
                    continue
                notification = protocol.notification(frame)
                if notification is None:
                    continue
                nid = protocol.notification_id(notification)
                key = protocol.match_key(notification)
                if nid is not None:
                    if nid in client.seen:
                        tally.repeats += 1
                    client.seen.add(nid)
                    await client.ws.send(protocol.ack_frame([nid]))
                    tally.acks += 1
                if key is not None and (key, client.user) not in tally.received_at:
                    tally.received_at[key, client.user] = now
                    if len(tally.received_at) >= tally.expected >= 0:
                        tally.all_seen.set()
        except ConnectionClosed as exc:
            tally.closes[str(exc.rcvd.code if exc.rcvd else "none")] += 1
        else:  # a clean close (1000, 1001) ends the iteration without an exception
            if not tally.stopping:
                tally.closes[str(client.ws.close_code)] += 1
        if tally.stopping:
            return
        for attempt in range(MAX_RECONNECTS):
            try:
                client.ws, _early = await open_one(target.ws_endpoint(), protocol,
                                                   client.user, target.secret, 15.0)
                if tally.stopping:  # the run ended while this client reconnected
                    await client.ws.close()
                    return
                break
            except Exception as exc:
                tally.closes[f"reconnect failed: {type(exc).__name__}"] += 1
                await asyncio.sleep(0.2 * (attempt + 1))
        else:
            return
        tally.reconnects += 1


async def _herald_user(client: HeraldClient, user: str, tally: Tally) -> None:
    """One app on Herald's own protocol, built on Herald's Python client: it reconnects,
    hides replays and batches ACKs itself (``repeats`` are the replays it hid)."""
    async for note in client:
        now = time.perf_counter()
        await client.ack(note["id"])
        tally.acks += 1
        key = note.get("eventId")
        if key is not None and (key, user) not in tally.received_at:
            tally.received_at[key, user] = now
            if len(tally.received_at) >= tally.expected >= 0:
                tally.all_seen.set()


async def _open_herald_clients(target: Target, users: list[str], parallel: int = 100
                               ) -> list[HeraldClient]:
    """One started, authenticated client per user, ``parallel`` handshakes at a time."""
    secret = target.secret
    clients: list[HeraldClient] = []
    for start in range(0, len(users), parallel):
        chunk = [HeraldClient(target.ws_endpoint(), auto_ack=False,
                              token=make_token(secret, u) if secret else None,
                              user_id=None if secret else u).start()
                 for u in users[start:start + parallel]]
        clients += chunk
        await asyncio.gather(*(c.wait_open(15.0) for c in chunk))
    return clients


async def _send_open_loop(target: Target, users: list[str], rate: float, duration: float,
                          connections: int, tally: Tally, recipients: int = 1
                          ) -> dict[str, Any]:
    assert target.producer_url is not None
    host, port = split_url(target.producer_url)
    protocol = target.protocol
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(host, port, timeout=30, headers=target.key_headers()))
    total = max(1, int(rate * duration))
    run = secrets.token_hex(3)
    post_latency: list[float] = []
    lag: list[float] = []
    statuses: Counter[str] = Counter()

    async def post(i: int, due: float) -> None:
        key = f"e{run}-{i}"
        targets = [users[(i * recipients + j) % len(users)] for j in range(recipients)]
        tally.targets[key] = targets
        body = protocol.event_body(key, f"a{i % 997}", targets)
        connection = await pool.get()
        try:
            t0 = time.perf_counter()
            lag.append(t0 - due)
            tally.sent_at[key] = t0
            try:
                status, _ = await connection.request("POST", protocol.event_path, body)
            except HttpError as exc:
                statuses[f"error {str(exc).split(':')[0]}"] += 1
                return
            post_latency.append(time.perf_counter() - t0)
            statuses[str(status)] += 1
            if status in protocol.ok_statuses:
                tally.accepted.add(key)
        finally:
            pool.put_nowait(connection)

    tasks: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter()
    for i in range(total):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(post(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    scheduled_s = time.perf_counter() - t0
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=30)
        for task in late:  # bounded in time: a POST not answered in 30 s is given up
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    elapsed = time.perf_counter() - t0
    while not pool.empty():
        pool.get_nowait().close()
    return {"events": total, "send_s": round(scheduled_s, 2), "posts_done_s": round(elapsed, 2),
            "offered_per_s": round(total / max(scheduled_s, 1e-9), 1),
            "accepted": len(tally.accepted),
            "accepted_per_s": round(len(tally.accepted) / max(elapsed, 1e-9), 1),
            "post_latency_ms": percentiles(post_latency), "send_lag_ms": percentiles(lag),
            "statuses": dict(statuses)}


async def _wait_persisted(target: Target, expected: int, within_s: float) -> dict[str, Any]:
    if target.stack is None or "persister" not in target.stack.services:
        return {}
    url = target.stack.url("persister")
    start = time.perf_counter()
    persisted = 0.0
    while time.perf_counter() - start < within_s:
        persisted = await counter_sum(url, "herald_persisted_total", 'status="acked"')
        if persisted >= expected:
            break
        await asyncio.sleep(0.2)
    return {"persisted_acked": int(persisted),
            "persist_wait_s": round(time.perf_counter() - start, 2)}


async def _batch_sizes(target: Target) -> dict[str, float | None]:
    """Mean batch sizes the consumer and the persister worked in (their histograms): small
    batches mean a per-event cost that batching would amortise."""
    if target.stack is None:
        return {}
    out: dict[str, float | None] = {}
    for module, metric in (("consumer", "herald_consumer_batch_size"),
                           ("persister", "herald_persist_batch_size")):
        url = target.stack.url(module)
        total = await counter_sum(url, metric + "_sum")
        count = await counter_sum(url, metric + "_count")
        out[module] = round(total / count, 1) if count else None
    return out


async def run_e2e(opts: argparse.Namespace) -> dict[str, Any]:
    if opts.recipients > opts.clients or (opts.recipients > 1 and opts.protocol == "seed"):
        raise SystemExit("--recipients: at most --clients, and 1 on the seed's surface")
    async with open_target(opts, MODULES) as target:
        if not (target.ws_url and target.producer_url):
            raise SystemExit("--producer-url and --ws-url are needed")
        protocol = target.protocol
        users = [f"u{secrets.token_hex(2)}-{n}" for n in range(opts.clients)]
        tally = Tally()
        apps: list[_User] = []
        herald_clients: list[HeraldClient] = []
        if protocol.name == "herald":
            herald_clients = await _open_herald_clients(target, users)
            readers = [asyncio.create_task(_herald_user(c, u, tally))
                       for c, u in zip(herald_clients, users, strict=True)]
        else:
            clients, errors = await open_clients(target.ws_endpoint(), protocol, users,
                                                 target.secret)
            if errors:
                raise RuntimeError(f"{len(errors)} clients failed to AUTH, e.g. {errors[0]}")
            apps = [_User(ws, user) for ws, user in zip(clients, users, strict=True)]
            readers = [asyncio.create_task(_client(app, target, tally)) for app in apps]
        async with ProcSampler(target.pids()) as sampler:
            sent = await _send_open_loop(target, users, opts.rate, opts.duration,
                                         opts.http_connections, tally, opts.recipients)
            tally.expected = len(tally.accepted) * opts.recipients
            if len(tally.received_at) >= tally.expected:
                tally.all_seen.set()
            waited = time.perf_counter()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tally.all_seen.wait(), opts.deadline)
            drained_s = time.perf_counter() - waited
        await asyncio.sleep(0.3)  # the last ACKs reach the gateway
        acks = tally.acks
        persisted = await _wait_persisted(target, len(tally.received_at), opts.deadline + 10)
        batches = await _batch_sizes(target)
        tally.stopping = True
        await close_all([app.ws for app in apps])
        await asyncio.gather(*(c.close() for c in herald_clients))
        for client in herald_clients:
            tally.repeats += client.ledger.duplicates
            tally.ack_retries += client.ack_retries
            tally.reconnects += max(0, client.connects - 1)
            tally.closes.update(client.closes)
        _, stuck = await asyncio.wait(readers, timeout=20)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await close_all([app.ws for app in apps])
    delivery = [at - tally.sent_at[k] for (k, _), at in tally.received_at.items()
                if k in tally.sent_at]
    lost = sum(1 for k in tally.accepted for u in tally.targets[k]
               if (k, u) not in tally.received_at)
    result: dict[str, Any] = {
        "scenario": "e2e", "protocol": protocol.name,
        "params": {"clients": opts.clients, "rate": opts.rate, "duration": opts.duration,
                   "recipients": opts.recipients,
                   "deadline": opts.deadline, "http_connections": opts.http_connections},
        **sent, "delivered": len(tally.received_at), "lost": lost, "repeats": tally.repeats,
        "delivered_without_2xx": sum(1 for k, _ in tally.received_at
                                     if k not in tally.accepted),
        "acks_sent": acks, "ack_retries": tally.ack_retries,
        "drain_after_last_post_s": round(drained_s, 2),
        "delivery_latency_ms": percentiles(delivery), "client_closes": dict(tally.closes),
        "reconnects": tally.reconnects,
        **persisted, "mean_batch_size": batches, "procstat": sampler.report(),
    }
    # CPU of each process per notification delivered while sampled (µs): the figure that
    # compares two versions run at the same rate on a machine with other load.
    result["cpu_us_per_event"] = {
        name: round(p["cpu_s"] / max(len(tally.received_at), 1) * 1e6, 1)
        for name, p in result["procstat"]["processes"].items()}
    result["headline"] = {
        "accepted/s": sent["accepted_per_s"], "lost": lost, "repeats": tally.repeats,
        "p50_ms": result["delivery_latency_ms"].get("p50"),
        "p99_ms": result["delivery_latency_ms"].get("p99"),
    }
    result["target"] = "≥ 3,000 events/s sustained, 0 lost; at 1,000/s p50 ≤ 3 ms, p99 ≤ 10 ms"
    return result
