"""What a scenario measures: Herald started by :mod:`bench.stack`, or a running system given
by URL (``--producer-url`` / ``--ws-url``, loopback only), e.g. the seed's implementation.

A started stack knows its pids, its JWT secret, its API key (tenant ``default``, made in its
store before the producer starts) and its ``/metrics``; an external system is driven through
its public surface only (``--api-key`` for a Herald in ``jwt`` mode), and its processes are
sampled when named with ``--pid name=PID``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.http import check_local, get
from bench.procstat import broker_pids
from bench.seed import PROTOCOLS, Protocol
from bench.stack import REDIS_URL, Stack

__all__ = ["Target", "counter_sum", "open_target"]


@dataclass
class Target:
    protocol: Protocol
    producer_url: str | None = None
    ws_url: str | None = None
    secret: str | None = None
    api_key: str | None = None
    stack: Stack | None = None
    extra_pids: dict[str, int] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        """Every process to sample: the services, RabbitMQ, Redis, and the load tool."""
        port = urlsplit(REDIS_URL).port or 6379
        found = {("redis" if name == f"redis:{port}" else name): pid
                 for name, pid in broker_pids().items()
                 if not name.startswith("redis") or name == f"redis:{port}"}
        if self.stack is not None:
            found.update(self.stack.pids())
        found.update(self.extra_pids)
        found["load-tool"] = os.getpid()
        return found

    def key_headers(self) -> dict[str, str]:
        """What each ingest request carries: the API key, if there is one."""
        return {"X-API-Key": self.api_key} if self.api_key else {}

    def ws_endpoint(self) -> str:
        assert self.ws_url is not None
        url = self.ws_url.replace("http://", "ws://")
        return url if url.rstrip("/").endswith("/ws") or self.protocol.name == "seed" \
            else url.rstrip("/") + "/ws"


def _extra_pids(values: list[str] | None) -> dict[str, int]:
    out = {}
    for value in values or []:
        name, _, pid = value.partition("=")
        out[name] = int(pid)
    return out


@contextlib.asynccontextmanager
async def open_target(opts: argparse.Namespace, modules: tuple[str, ...],
                      **env: str) -> AsyncIterator[Target]:
    """Start ``modules`` (in order) under a fresh prefix, or use ``--producer-url`` /
    ``--ws-url`` if given. Stopped and cleaned up on exit."""
    protocol = PROTOCOLS[opts.protocol]
    if opts.producer_url or opts.ws_url:
        yield Target(protocol,
                     producer_url=check_local(opts.producer_url) if opts.producer_url else None,
                     ws_url=check_local(opts.ws_url) if opts.ws_url else None,
                     secret=opts.jwt_secret, api_key=getattr(opts, "api_key", None),
                     extra_pids=_extra_pids(opts.pid))
        return
    if protocol.name == "seed":
        # Herald itself, in its seed-compatible mode: POST /like and AUTH with a bare userId.
        env = {"AUTH_MODE": "trusted", **env}
    async with Stack(**env) as stack:
        for module in modules:
            await stack.start(module)
        yield Target(
            protocol,
            producer_url=stack.url("producer") if "producer" in stack.services else None,
            ws_url=stack.url("ws_gateway") if "ws_gateway" in stack.services else None,
            secret=None if protocol.name == "seed" else stack.secret,
            api_key=stack.api_key,
            stack=stack,
            extra_pids=_extra_pids(opts.pid),
        )


async def counter_sum(url: str, name: str, label: str | None = None) -> float:
    """Sum of a Prometheus counter's samples at ``url``/metrics (``label`` = ``k="v"`` to
    keep only those samples)."""
    status, body = await get(url + "/metrics", 5.0)
    if status != 200:
        raise RuntimeError(f"{url}/metrics answered {status}")
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if label is None or label in line:
                total += float(line.rsplit(" ", 1)[1])
    return total
