"""The benchmark tool still works: every scenario for a couple of seconds at tiny scale.
(Benchmarks are not tests; this only checks the tool, its figures are not asserted.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.integration


@pytest.mark.timeout(240)
def test_bench_smoke_runs_every_scenario() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "all", "--smoke", "--no-save"],
                          cwd=ROOT, capture_output=True, text=True, timeout=220)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")
            and "[smoke]" in line]
    scenarios = {row.split("|")[1].split("(")[0].split("@")[0].strip() for row in rows}
    assert {"ingest", "consumer", "e2e", "gateway idle", "gateway fanout",
            "persister", "publish path, no HTTP"} <= scenarios, scenarios
    publish = [row for row in rows if row.startswith("| publish path")]
    assert publish, rows
    assert "failed 0" in publish[0], publish
    e2e = [row for row in rows if row.startswith("| e2e")]
    assert e2e
    assert all("lost 0;" in row for row in e2e)


@pytest.mark.timeout(120)
def test_bench_capacity_smoke_reports_bytes_for_each_size() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "capacity", "--smoke", "--no-save"],
                          cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    [row] = report["sizes"]
    assert row["json_bytes"] > 0
    assert row["pending_bytes"] > 0
    assert row["store_row_bytes"] > 0
    assert report["redis_bytes_per_connected_user"] > 0
    assert report["calibration_s"] > 0
