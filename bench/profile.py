"""``--profile``: py-spy on every Python process of a run while it is measured.

py-spy (``pip install py-spy``, or the ``bench`` extra) samples each service and the load
tool at 100 Hz from outside (``--nonblocking``: the processes are never paused) and writes
collapsed stacks to ``bench/results/<stamp>-<scenario>-<process>.txt``; the report keeps,
per process, the functions with the most samples on top of the stack (self time) and the
share of the time the process was busy at all.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["Profiler", "enable", "enabled"]

RATE = 100
PYTHON_PROCESSES = ("producer", "consumer", "ws_gateway", "persister", "load-tool")
PROJECT_PATHS = tuple(f"({p}/" for p in ("producer", "consumer", "ws_gateway", "persister",
                                          "common", "bench"))
_directory: Path | None = None
_label = "run"


def enable(directory: Path, label: str) -> None:
    global _directory, _label
    if shutil.which("py-spy") is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    _directory, _label = directory, label


def enabled() -> bool:
    return _directory is not None


class Profiler:
    def __init__(self, pids: dict[str, int]) -> None:
        assert _directory is not None
        _directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self._runs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        self._started = time.monotonic()
        for name, pid in pids.items():
            if name not in PYTHON_PROCESSES:
                continue
            out = _directory / f"{stamp}-{_label}-{name}.txt"
            proc = subprocess.Popen(
                ["py-spy", "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw",
                 "--nonblocking", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self._runs[name] = (proc, out)

    def stop(self) -> dict[str, Any]:
        seconds = time.monotonic() - self._started
        for proc, _ in self._runs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        report: dict[str, Any] = {}
        for name, (proc, out) in self._runs.items():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            with contextlib.suppress(OSError):
                report[name] = {"file": str(out), **summarise(out.read_text(), seconds)}
        return report


def _frame_name(frame: str) -> str:
    """``func (path/to/file.py:12)`` → ``func (file.py)``."""
    name, _, where = frame.partition(" (")
    file = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{name} ({file})" if file else name


def summarise(collapsed: str, seconds: float, top: int = 12) -> dict[str, Any]:
    """Self-time shares of the top functions, inclusive shares of Herald's own functions
    (where the time goes, by the project's call sites); ``busy_share`` is samples over the samples a
    fully busy thread would give (py-spy leaves idle threads out by default)."""
    leaves: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        leaves[_frame_name(frames[-1])] += count
        for name in {_frame_name(f) for f in frames if any(p in f for p in PROJECT_PATHS)}:
            ours[name] += count
    if not total:
        return {"samples": 0, "busy_share": 0.0, "top_self": [], "top_project_inclusive": []}
    return {"samples": total,
            "busy_share": round(total / max(seconds * RATE, 1), 3),
            "top_self": [(name, round(n / total, 3)) for name, n in leaves.most_common(top)],
            "top_project_inclusive": [(name, round(n / total, 3))
                                      for name, n in ours.most_common(top)]}
