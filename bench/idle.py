"""``K`` idle authenticated connections (one user each) held on one gateway: its RSS per
connection.

The gateway's RSS is read before any connection, after the first 10 % (warm: code paths
and allocator pools touched) and after all ``K``, each time once it has settled. The
headline is the slope between the last two — the cost of one more connection — and the
average over all ``K`` is reported too. Only the gateway is started (it needs Redis only).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from typing import Any

from bench.clients import close_all, open_clients
from bench.procstat import ProcSampler, rss_kib
from bench.target import open_target

__all__ = ["run_idle", "settled_rss"]


async def settled_rss(pid: int, seconds: float = 2.0) -> int:
    """RSS (KiB) once it has stopped moving by more than 1 % within ``seconds``, at most
    ``5 * seconds`` of waiting."""
    last = rss_kib(pid)
    deadline = time.monotonic() + 5 * seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(seconds / 4)
        now = rss_kib(pid)
        if abs(now - last) <= max(last // 100, 64):
            return now
        last = now
    return last


async def run_idle(opts: argparse.Namespace) -> dict[str, Any]:
    async with open_target(opts, ("ws_gateway",)) as target:
        assert target.ws_url, "--ws-url is needed"
        pids = target.pids()
        gateway = pids.get("ws_gateway") or next(
            (pid for name, pid in pids.items() if "gateway" in name), None)
        if gateway is None:
            raise SystemExit("name the gateway's process with --pid ws_gateway=PID")
        total = opts.connections
        first = max(1, total // 10)
        users = [f"i{secrets.token_hex(2)}-{n}" for n in range(total)]
        url = target.ws_endpoint()
        async with ProcSampler(pids) as sampler:
            rss0 = await settled_rss(gateway)
            started = time.perf_counter()
            warm, errors = await open_clients(url, target.protocol, users[:first],
                                              target.secret)
            open_s = time.perf_counter() - started
            rss1 = await settled_rss(gateway)
            started = time.perf_counter()
            rest, more = await open_clients(url, target.protocol, users[first:],
                                            target.secret)
            open_s += time.perf_counter() - started
            errors += more
            rss2 = await settled_rss(gateway)
            held = warm + rest
            alive = sum(1 for ws in held if ws.close_code is None)
        await close_all(held)
    slope = (rss2 - rss1) / max(len(rest), 1)
    average = (rss2 - rss0) / max(len(held), 1)
    return {
        "scenario": "idle", "protocol": target.protocol.name,
        "params": {"connections": total},
        "opened": len(held), "alive_at_end": alive, "errors": len(errors),
        "error_sample": errors[:3], "open_s": round(open_s, 2),
        "opened_per_s": round(len(held) / max(open_s, 1e-9), 1),
        "gateway_rss_mib": {"before": round(rss0 / 1024, 1), "at_10pct": round(rss1 / 1024, 1),
                            "at_all": round(rss2 / 1024, 1)},
        "kib_per_connection": round(slope, 2), "kib_per_connection_avg": round(average, 2),
        "headline": {"KiB/conn": round(slope, 2), "connections": len(held)},
        "target": "≤ 20 KiB RSS per idle authenticated connection at 10,000",
        "procstat": sampler.report(),
    }
