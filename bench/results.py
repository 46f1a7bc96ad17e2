"""Latency summaries, JSON files under ``bench/results/`` and the markdown table."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

__all__ = ["CALIBRATION_LOOPS", "RESULTS_DIR", "calibrate", "machine_info", "median_of",
           "percentiles", "table", "write_json"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentiles(values: Iterable[float], scale: float = 1000.0) -> dict[str, float | int]:
    """``{"n", "p50", "p95", "p99", "max"}`` of seconds, in milliseconds (nearest rank)."""
    data = sorted(values)
    if not data:
        return {"n": 0}

    def rank(q: float) -> float:
        return round(data[min(len(data) - 1, max(0, math.ceil(q * len(data)) - 1))] * scale, 2)

    return {"n": len(data), "p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99),
            "max": round(data[-1] * scale, 2)}


def _git(*args: str) -> str:
    """git, run from the repository root (the paths given are relative to it)."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=RESULTS_DIR.parents[1], check=False).stdout.strip()
    except OSError:
        return ""


CALIBRATION_LOOPS = 5_000_000


def calibrate(loops: int = CALIBRATION_LOOPS) -> float:
    """The machine's ceiling right now: seconds one process takes for a fixed pure-Python
    loop (5M iterations of an add). Lower is faster; a figure is comparable with another
    only next to its own calibration (machines of one kind differ 3-5x)."""
    started = time.perf_counter()
    total = 0
    for i in range(loops):
        total += i
    return round(time.perf_counter() - started, 3)


def machine_info() -> dict[str, Any]:
    """Where and on what code a run was made (``dirty``: the services' code differs from
    the commit)."""
    dirty = bool(_git("status", "--porcelain", "--", "common", "producer", "consumer",
                      "ws_gateway", "persister"))
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cores": os.cpu_count(), "commit": _git("rev-parse", "--short", "HEAD"),
            "dirty": dirty,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def write_json(name: str, payload: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}.json"
    path.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    return path


def median_of(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per numeric field (nested dicts too), the median over runs; other fields from the first."""
    first = runs[0]
    out: dict[str, Any] = {}
    for key, value in first.items():
        values = [r.get(key) for r in runs]
        if isinstance(value, bool) or not isinstance(value, int | float | dict):
            out[key] = value
        elif isinstance(value, dict):
            out[key] = median_of([v for v in values if isinstance(v, dict)])
        else:
            numbers = [v for v in values if isinstance(v, int | float)]
            out[key] = statistics.median(numbers) if numbers else None
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: Sequence[dict[str, Any]]) -> str:
    """One markdown row per scenario: its headline figure against the issue's target, the
    busiest processes, and what the tool says limits it."""
    lines = ["| scenario | measured | target | busiest processes (CPU % of a core) | "
             "other load (CPU %) | saturated | calibration (s, 5M loop) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        procs = row.get("procstat", {}).get("processes", {})
        busiest = sorted(procs.items(), key=lambda kv: -kv[1]["cpu_percent"])[:4]
        cpu = ", ".join(f"{n} {_fmt(p['cpu_percent'])}" for n, p in busiest)
        measured = "; ".join(f"{k} {_fmt(v)}" for k, v in row.get("headline", {}).items())
        stat = row.get("procstat", {})
        limits = ", ".join(stat.get("bottlenecks", [])) or "-"
        lines.append(f"| {row['scenario']} | {measured} | {row.get('target', '')} | {cpu} | "
                     f"{_fmt(stat.get('untracked_cpu_percent'))} | {limits} | "
                     f"{_fmt(row.get('calibration_s'))} |")
    return "\n".join(lines)
