"""``python -m bench all``: every row of the issue's table, each in a fresh stack, medians
of ``--runs`` runs; the table is printed and saved under ``bench/results/``.

A row's settings below override the tool's defaults (not with ``--smoke``, which makes
every row tiny); options given on the command line, such as ``--duration``, apply to all.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import traceback
from typing import Any

import orjson

from bench.results import RESULTS_DIR, machine_info, table, write_json
from bench.runner import parser, run_one

__all__ = ["ROWS", "run_all"]

ROWS: list[tuple[str, str, dict[str, Any]]] = [
    # label, scenario, settings
    ("ingest (single, 50 conns)", "ingest", {"concurrency": 50}),
    ("ingest (batch of 100, 4 conns)", "batch", {"concurrency": 4, "batch_size": 100}),
    ("consumer (50k backlog)", "consumer", {"events": 50_000}),
    ("e2e @ 500/s", "e2e", {"rate": 500.0, "clients": 100}),
    ("e2e @ 1,000/s", "e2e", {"rate": 1000.0, "clients": 100}),
    ("e2e @ 3,000/s", "e2e", {"rate": 3000.0, "clients": 100}),
    ("gateway idle (10k conns)", "idle", {"connections": 10_000}),
    # 80,000 frames/s offered, more than the target, so that the figure is the ceiling.
    ("gateway fanout (1k conns)", "fanout",
     {"users": 100, "per_user": 10, "fanout_rate": 8000.0}),
    ("persister (100k backlog)", "persister", {"entries": 100_000}),
    # 10,000 users whose quiet hours end at the same minute, released 500 a turn.
    ("release burst (10k held)", "release", {"held": 10_000}),
    # The consumer's making step, templates against today's fixed formatting (in-process).
    ("consumer making step: templates vs fixed (20k events)", "templates", {"events": 20_000}),
    # Not a target: the ceiling of the batch row on this machine (publishing without HTTP).
    ("publish path, no HTTP (4 x 100 in flight)", "publish",
     {"concurrency": 4, "batch_size": 100}),
]


def _defaults() -> dict[str, Any]:
    return vars(parser().parse_args(["all"]))


async def run_all(opts: argparse.Namespace) -> int:
    defaults = _defaults()
    only = {s.strip() for s in (opts.only or "").split(",") if s.strip()}
    rows = []
    failures = 0
    for label, scenario, settings in ROWS:
        if only and scenario not in only and label not in only:
            continue
        row_opts = copy.copy(opts)
        if not opts.smoke:
            for key, value in settings.items():
                if getattr(opts, key) == defaults[key]:  # not set on the command line
                    setattr(row_opts, key, value)
        print(f"# {label}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            result = await run_one(scenario, row_opts)
        except Exception as exc:
            failures += 1
            traceback.print_exc()
            result = {"scenario": scenario, "error": f"{type(exc).__name__}: {exc}",
                      "headline": {"error": type(exc).__name__}}
        result["scenario"] = label + (" [smoke]" if opts.smoke else "")
        result["wall_s"] = round(time.perf_counter() - started, 1)
        rows.append(result)
        print(f"  {orjson.dumps(result.get('headline')).decode()}", file=sys.stderr, flush=True)
    markdown = table(rows)
    print(markdown)
    if not opts.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (RESULTS_DIR / f"{stamp}-table.md").write_text(markdown + "\n")
        write_json("all" + ("-smoke" if opts.smoke else ""),
                   {"machine": machine_info(), "runs": opts.runs, "rows": rows})
    return 1 if failures else 0
