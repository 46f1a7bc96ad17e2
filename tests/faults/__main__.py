"""``python -m tests.faults``: the full fault suite, and its table in docs/FAULTS.md.

    python -m tests.faults                 # every fault, 3000 events at 300/s each
    python -m tests.faults --events 300 --rate 150 --only sigkill-consumer
    python -m tests.faults --no-doc --only held-through-restarts digest-under-restart \
        preferences-under-restart     # issue 19's paths; --no-doc keeps the page as it is

Exits 1 if any fault lost or duplicated anything, or made a notification a user turned off.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.ledger import Report
from tests.faults.run import run_fault
from tests.faults.scenarios import FAULTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "FAULTS.md"
MARK = "<!-- table: written by python -m tests.faults -->"


def table(reports: list[Report], command: str) -> str:
    """The table; with the columns of issue 19's paths (held, muted, joined a digest) when a
    report has any."""
    paths = any(r.held or r.muted or r.joined for r in reports)
    extra = (" held, then released | muted | muted (metric, summed over lives) | "
             "joined a digest | digests stored |") if paths else ""
    lines = [
        MARK,
        f"Command: `{command}` — {time.strftime('%Y-%m-%d', time.gmtime())}, on this 2-core "
        "machine, every service, RabbitMQ and Redis on the same box.",
        "",
        "| fault | accepted | stored acked | stored expired | dead-lettered | lost | "
        "duplicated in store | repeats seen by clients | time to recover (s) |" + extra,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        + (" ---: |" * 5 if paths else ""),
    ]
    for r in reports:
        recover = "—" if r.recover_seconds is None else f"{r.recover_seconds:.2f}"
        line = (f"| {r.fault} | {r.accepted} | {r.stored_acked} | {r.stored_expired} | "
                f"{r.dead_lettered} | {r.lost} | {r.duplicated} | {r.repeats} | {recover} |")
        if paths:
            metric = "—" if r.muted_metric is None else f"{r.muted_metric:.0f}"
            line += f" {r.held} | {r.muted} | {metric} | {r.joined} | {r.digests} |"
        lines.append(line)
    return "\n".join(lines) + "\n"


async def main(events: int, rate: float, only: list[str]) -> list[Report]:
    reports = []
    for name in only or ["none", *FAULTS]:
        with tempfile.TemporaryDirectory(prefix="herald-fault-") as tmp:
            report = await run_fault(name, Path(tmp), events, rate)
        print(report.row(), flush=True)
        reports.append(report)
    return reports


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.faults")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--only", nargs="*", default=[], choices=["none", *FAULTS])
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/FAULTS.md")
    args = parser.parse_args()
    found = asyncio.run(main(args.events, args.rate, args.only))
    command = "python -m tests.faults " + " ".join(sys.argv[1:])
    print(table(found, command.strip()))
    if not args.no_doc and DOC.exists():
        text = DOC.read_text()
        head = text.split(MARK)[0]
        DOC.write_text(head + table(found, command.strip()))
    sys.exit(0 if all(r.lost == 0 and r.duplicated == 0 and r.delivered_to_muted == 0
                      for r in found) else 1)
