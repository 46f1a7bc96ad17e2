"""CPU % and peak RSS of processes by pid, sampled from ``/proc`` (Linux only, no psutil).

CPU % is per core (100 = one core busy for the whole window), from ``utime + stime`` of
``/proc/<pid>/stat``, which for a process counts all its threads. RSS is ``VmRSS`` sampled
every ``interval`` seconds; the peak is the largest sample (``VmHWM`` would include the
time before the window for long-lived processes such as RabbitMQ and Redis). The machine's
busy share comes from ``/proc/stat`` and includes everything running beside the benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import profile

__all__ = ["ProcSampler", "broker_pids", "cpu_count", "cpu_seconds", "rss_kib", "wait_until_quiet"]

CLK_TCK = os.sysconf("SC_CLK_TCK")
BOTTLENECK_PERCENT = 90.0
"""A process at or above this CPU % (of one core) is called saturated."""


def cpu_count() -> int:
    return os.cpu_count() or 1


def _cpu_ticks(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process so far (``None``: it is gone)."""
    ticks = _cpu_ticks(pid)
    return None if ticks is None else ticks / CLK_TCK


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_kib(pid: int) -> int:
    return _rss_kib(pid) or 0


def _machine_ticks() -> tuple[int, int, int]:
    """(busy, iowait, total) jiffies over all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    iowait = values[4] if len(values) > 4 else 0
    return sum(values) - values[3] - iowait, iowait, sum(values)


def _listen_port(entry: Path) -> str:
    """``:6379`` from redis-server's command line (``redis-server 127.0.0.1:6379``)."""
    try:
        words = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().split()
    except OSError:
        return ""
    for word in words[1:2] + words:
        if ":" in word and word.rsplit(":", 1)[1].isdigit():
            return ":" + word.rsplit(":", 1)[1]
    return ""


async def wait_until_quiet(max_wait_s: float, busy_below: float = 25.0) -> float:
    """Wait (at most ``max_wait_s``) until the machine is less than ``busy_below`` % busy
    over two seconds; the last busy % seen. Other work on a shared box skews every figure."""
    deadline = time.monotonic() + max_wait_s
    while True:
        before = _machine_ticks()
        await asyncio.sleep(2.0)
        after = _machine_ticks()
        busy = (after[0] - before[0]) / max(after[2] - before[2], 1) * 100
        if busy < busy_below or time.monotonic() >= deadline:
            return round(busy, 1)


def broker_pids() -> dict[str, int]:
    """RabbitMQ's ``beam.smp`` and ``redis-server`` processes on this machine, by name."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm in ("beam.smp", "redis-server"):
            name = "rabbitmq" if comm == "beam.smp" else "redis" + _listen_port(entry)
            key = name if name not in found else f"{name}-{entry.name}"
            found[key] = int(entry.name)
    return found


@dataclass
class _Track:
    pid: int
    ticks0: int | None = None
    ticks: int | None = None
    peak_kib: int = 0
    peak_cpu: float = 0.0
    last: tuple[float, int] | None = None
    samples: list[float] = field(default_factory=list)


class ProcSampler:
    """``async with ProcSampler({"producer": pid, ...}) as s: ...`` then ``s.report()``."""

    def __init__(self, pids: dict[str, int], interval: float = 0.5) -> None:
        self._tracks = {name: _Track(pid) for name, pid in pids.items()}
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._t0 = self._t1 = 0.0
        self._machine0 = self._machine1 = (0, 0, 0)
        self._profiler: profile.Profiler | None = None
        self._profile: dict[str, Any] = {}

    def add(self, name: str, pid: int) -> None:
        track = _Track(pid)
        self._sample_one(track, time.monotonic())
        self._tracks[name] = track

    async def __aenter__(self) -> ProcSampler:
        self._t0 = time.monotonic()
        self._machine0 = _machine_ticks()
        for track in self._tracks.values():
            self._sample_one(track, self._t0)
        self._task = asyncio.create_task(self._run())
        if profile.enabled():
            self._profiler = profile.Profiler({n: t.pid for n, t in self._tracks.items()})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._t1 = time.monotonic()
        self._machine1 = _machine_ticks()
        if self._profiler is not None:
            self._profile = self._profiler.stop()
        for track in self._tracks.values():
            self._sample_one(track, self._t1)

    def _sample_one(self, track: _Track, now: float) -> None:
        ticks = _cpu_ticks(track.pid)
        if ticks is None:
            return
        if track.ticks0 is None:
            track.ticks0 = ticks
        if track.last is not None and now > track.last[0]:
            percent = (ticks - track.last[1]) / CLK_TCK / (now - track.last[0]) * 100
            track.peak_cpu = max(track.peak_cpu, percent)
        track.last = (now, ticks)
        track.ticks = ticks
        track.peak_kib = max(track.peak_kib, _rss_kib(track.pid) or 0)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            now = time.monotonic()
            for track in self._tracks.values():
                self._sample_one(track, now)

    def report(self) -> dict[str, Any]:
        """``{"processes": {name: {pid, cpu_percent, cpu_s, peak_cpu_percent, peak_rss_mib}},
        "wall_s", "machine_busy_percent", "untracked_cpu_percent", "cores", "bottlenecks"}``.

        ``untracked_cpu_percent`` (of one core) is what ran beside the benchmark — other
        work on the machine, the kernel — and says how noisy the figures are."""
        wall = max(self._t1 - self._t0, 1e-9)
        processes: dict[str, dict[str, Any]] = {}
        bottlenecks = []
        for name, track in self._tracks.items():
            if track.ticks is None or track.ticks0 is None:
                continue
            cpu = (track.ticks - track.ticks0) / CLK_TCK / wall * 100
            processes[name] = {"pid": track.pid, "cpu_percent": round(cpu, 1),
                               "cpu_s": round((track.ticks - track.ticks0) / CLK_TCK, 2),
                               "peak_cpu_percent": round(track.peak_cpu, 1),
                               "peak_rss_mib": round(track.peak_kib / 1024, 1)}
            if cpu >= BOTTLENECK_PERCENT:
                bottlenecks.append(name)
        busy = self._machine1[0] - self._machine0[0]
        iowait = self._machine1[1] - self._machine0[1]
        total = max(self._machine1[2] - self._machine0[2], 1)
        machine = round(busy / total * 100, 1)
        if machine >= 90:
            bottlenecks.append("machine (all cores busy)")
        tracked = sum(p["cpu_percent"] for p in processes.values())
        others = max(0.0, busy / total * 100 * cpu_count() - tracked)
        return {"processes": processes, "wall_s": round(wall, 2),
                "machine_busy_percent": machine,
                "untracked_cpu_percent": round(others, 1),
                "iowait_percent": round(iowait / total * 100, 1),
                "cores": cpu_count(), "bottlenecks": bottlenecks,
                "load_tool_bound": "load-tool" in bottlenecks,
                **({"profile": self._profile} if self._profile else {})}
