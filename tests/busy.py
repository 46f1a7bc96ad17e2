"""Run a command while a CPU burner takes one core: the proof that the suite holds on a busy
machine (issue 11). ``HERALD_TEST_TIMEOUT_FACTOR`` is set to 3 unless already set.

    python -m tests.busy -- bash .ci/run
    python -m tests.busy --max-seconds 1800 -- .venv/bin/python -m tests.faults

The burner is one process spinning a busy loop, bounded: it stops when the command ends or
after ``--max-seconds``, whichever comes first. At the end it prints how much CPU the burner
had (in cores, over the command's wall time) and exits with the command's status.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from bench.procstat import cpu_seconds  # stdlib only: runs before .ci/run builds the venv

__all__ = ["main"]

_BURN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.busy", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--max-seconds", type=float, default=3600.0,
                        help="the burner stops after this long at most (default 3600)")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the command to run, after --")
    opts = parser.parse_args(argv)
    command = opts.command[1:] if opts.command[:1] == ["--"] else opts.command
    if not command:
        parser.error("no command given (python -m tests.busy -- CMD ...)")
    env = {**os.environ}
    env.setdefault("HERALD_TEST_TIMEOUT_FACTOR", "3")
    burner = subprocess.Popen(
        [sys.executable, "-c", _BURN.format(seconds=max(1.0, opts.max_seconds))])
    started = time.monotonic()
    print(f"busy: burner pid {burner.pid} spins one core for at most {opts.max_seconds:.0f} s;"
          f" HERALD_TEST_TIMEOUT_FACTOR={env['HERALD_TEST_TIMEOUT_FACTOR']}", flush=True)
    try:
        status = subprocess.call(command, env=env)
    finally:
        wall = time.monotonic() - started
        burned = cpu_seconds(burner.pid) if burner.poll() is None else None
        burner.send_signal(signal.SIGKILL)
        burner.wait()
    share = f"{burned / wall:.2f} cores" if burned is not None and wall > 0 else "unknown"
    print(f"busy: command exited {status} after {wall:.0f} s; the burner had {share} "
          f"over that time", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
