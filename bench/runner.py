"""The load tool's scenarios, options and one run of a scenario (with the machine's ceiling
measured just before it); ``python -m bench`` (:mod:`bench.__main__`) and the whole table
(:mod:`bench.suite`) both run scenarios through here."""


from __future__ import annotations

import argparse
import importlib
import resource
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bench.results import machine_info, write_json

__all__ = ["SCENARIOS", "apply_smoke", "parser", "raise_fd_limit", "run_one", "scenario"]

Scenario = Callable[[argparse.Namespace], Awaitable[dict[str, Any]]]


DESCRIPTION = """Herald's load tool. Scenarios: ingest (single events, closed loop), batch (the
batch endpoint), consumer / persister (drain a pre-filled backlog), e2e (open-loop rate at
WebSocket clients that ACK), idle (gateway RSS per idle connection), fanout (gateway frames/s),
publish (the producer's publish path without HTTP: the ceiling of ingest), trace (the console's
trace marks' cost per event), capacity (Redis and store bytes per notification), templates (the
consumer's making step with templates against fixed formatting), release (the burst when many
users' quiet hours end at once), fanout_topic (one topic event to --subscribers users, --connected
of them on one gateway, and a one-recipient event's latency meanwhile), all (the whole table of
bench/RESULTS.md)."""

SCENARIOS = {  # name -> module:function, imported on use
    "ingest": "bench.ingest:run_ingest",
    "batch": "bench.ingest:run_batch",
    "consumer": "bench.backlog:run_consumer",
    "e2e": "bench.e2e:run_e2e",
    "idle": "bench.idle:run_idle",
    "fanout": "bench.fanout:run_fanout",
    "persister": "bench.backlog:run_persister",
    "publish": "bench.publish:run_publish",
    "trace": "bench.trace:run_trace",
    "capacity": "bench.capacity:run_capacity",
    "templates": "bench.templates:run_templates",
    "release": "bench.release:run_release",
    "fanout_topic": "bench.fanout_topic:run_fanout_topic",
}


def scenario(name: str) -> Scenario:
    module, _, function = SCENARIOS[name].partition(":")
    found: Scenario = getattr(importlib.import_module(module), function)
    return found


SMOKE = {  # every scenario in about two seconds, at tiny scale
    "duration": 2.0, "warmup": 0.3, "concurrency": 4, "batch_size": 10, "clients": 5,
    "rate": 50.0, "deadline": 5.0, "connections": 50, "events": 500, "entries": 1000,
    "users": 5, "per_user": 2, "fanout_rate": 200.0,
    "notifications": 200, "sizes": "400", "capacity_users": 50, "held": 1000,
    "subscribers": 500, "connected": 20,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=DESCRIPTION)
    p.add_argument("scenario", choices=[*SCENARIOS, "all"])
    p.add_argument("--protocol", choices=["herald", "seed"], default="herald",
                   help="surface to speak: Herald's, or the seed's (POST /like → 200, "
                        "AUTH userId, frames with 'payload')")
    p.add_argument("--producer-url", help="measure a running system at this URL "
                   "(127.0.0.1 only) instead of starting Herald")
    p.add_argument("--ws-url", help="its WebSocket URL (127.0.0.1 only)")
    p.add_argument("--jwt-secret", help="HS256 secret of an external system (herald protocol)")
    p.add_argument("--api-key", help="API key (events:write) of an external Herald in jwt mode")
    p.add_argument("--pid", action="append", metavar="NAME=PID",
                   help="sample an external system's process too (repeatable)")
    p.add_argument("--smoke", action="store_true",
                   help="every scenario for ~2 s at tiny scale (checks the tool, not Herald)")
    p.add_argument("--runs", type=int, default=1, help="runs per scenario; the median is kept")
    p.add_argument("--no-save", action="store_true", help="do not write JSON under results/")
    p.add_argument("--profile", action="store_true",
                   help="py-spy every Python process while measured (needs py-spy)")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="before each run, wait up to this long for the machine to be under "
                        "25 %% busy (a shared box skews every figure)")
    p.add_argument("--only", help="with 'all': comma-separated scenarios or row labels")
    g = p.add_argument_group("ingest / batch (closed loop)")
    g.add_argument("--concurrency", type=int, default=50, help="connections (default 50)")
    g.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    g.add_argument("--warmup", type=float, default=1.0, help="seconds not measured first")
    g.add_argument("--max-requests", type=int, default=2_000_000, help="hard cap on requests")
    g.add_argument("--batch-size", type=int, default=100)
    g.add_argument("--client", choices=["raw", "httpx"], default="raw",
                   help="HTTP client of the load tool (raw: hand-written keep-alive)")
    g = p.add_argument_group("e2e (open loop with WebSocket clients)")
    g.add_argument("--clients", type=int, default=100, help="WebSocket clients, one user each")
    g.add_argument("--rate", type=float, default=1000.0, help="events per second")
    g.add_argument("--recipients", type=int, default=1,
                   help="users each event notifies (targetIds; all ACK at once)")
    g.add_argument("--deadline", type=float, default=10.0,
                   help="seconds after the last POST for every notification to arrive")
    g.add_argument("--http-connections", type=int, default=256,
                   help="keep-alive connections the open-loop sender may use")
    g = p.add_argument_group("idle")
    g.add_argument("--connections", type=int, default=10_000,
                   help="idle authenticated connections")
    g = p.add_argument_group("consumer / persister backlogs")
    g.add_argument("--events", type=int, default=50_000, help="events pre-filled on the queue")
    g.add_argument("--entries", type=int, default=100_000,
                   help="entries pre-filled on the persist stream")
    g = p.add_argument_group("capacity (Redis and store bytes)")
    g.add_argument("--notifications", type=int, default=20_000,
                   help="notifications buffered per size")
    g.add_argument("--sizes", default="300,500,1000,2000",
                   help="notification JSON sizes in bytes, comma-separated (below ~350: "
                        "the built-in sentence as it is)")
    g.add_argument("--pending-per-user", type=int, default=10,
                   help="pending notifications per offline user")
    g.add_argument("--capacity-users", type=int, default=10_000,
                   help="live channels subscribed for the per-connected-user figure")
    g = p.add_argument_group("release (quiet hours ending at the same minute)")
    g.add_argument("--held", type=int, default=10_000,
                   help="held notifications, one user each, all due at once")
    g.add_argument("--release-batch", type=int, default=500,
                   help="the most released per turn (HERALD_RELEASE_BATCH)")
    g.add_argument("--release-interval", type=float, default=1.0,
                   help="seconds between turns in the service (HERALD_RELEASE_INTERVAL_SECONDS)"
                        "; the bench turns back to back and computes the paced drain")
    g = p.add_argument_group("fanout_topic (one topic event to many subscribers)")
    g.add_argument("--subscribers", type=int, default=100_000,
                   help="users subscribed to the topic (the bench row: 100000 and 10000)")
    g.add_argument("--connected", type=int, default=10_000,
                   help="of the subscribers, how many are connected to the one gateway (AUTH, "
                        "ACK every notification) during the fan-out; at most --subscribers")
    g.add_argument("--fanout-page", type=int, default=500,
                   help="subscribers per chunk (FANOUT_PAGE_SIZE)")
    g.add_argument("--probe-interval", type=float, default=0.2,
                   help="seconds between one-recipient probe events during the fan-out")
    g = p.add_argument_group("fanout (gateway frames/s)")
    g.add_argument("--users", type=int, default=100)
    g.add_argument("--per-user", type=int, default=10, help="connections per user")
    g.add_argument("--fanout-rate", type=float, default=10_000.0,
                   help="notifications per second published to the users' live channels")
    return p


def apply_smoke(opts: argparse.Namespace) -> None:
    for key, value in SMOKE.items():
        setattr(opts, key, value)


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def run_one(name: str, opts: argparse.Namespace) -> dict[str, Any]:
    from bench.results import calibrate, median_of
    runs = []
    if opts.profile:
        from bench import profile
        from bench.results import RESULTS_DIR
        profile.enable(RESULTS_DIR / "profiles", name)
    for i in range(opts.runs):
        if opts.runs > 1:
            print(f"# {name}: run {i + 1} of {opts.runs}", file=sys.stderr)
        busy_before = None
        if opts.wait_idle > 0:
            from bench.procstat import wait_until_quiet
            busy_before = await wait_until_quiet(opts.wait_idle)
        ceiling = calibrate()  # the machine's ceiling, measured just before the run
        run = await scenario(name)(opts)
        run["calibration_s"] = ceiling
        run["machine_busy_before_percent"] = busy_before
        runs.append(run)
    result = median_of(runs) if len(runs) > 1 else runs[0]
    result["machine"] = machine_info()
    result["runs"] = len(runs)
    if len(runs) > 1:
        result["each_run"] = [r.get("headline") for r in runs]
    if opts.smoke:
        result["smoke"] = True
    if not opts.no_save:
        result["file"] = str(write_json(name + ("-smoke" if opts.smoke else ""), result))
    return result
