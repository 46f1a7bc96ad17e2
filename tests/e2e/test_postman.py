"""The Postman collection, run by newman against a live producer and consumer
(postman/run.sh starts them under a fresh prefix and stops them).

Skipped on a developer machine without newman (``cd postman && npm ci``); under CI
(``CI=true``) a missing newman is a failure: .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT
from tests.support.timing import scaled

pytestmark = pytest.mark.e2e

NEWMAN = ROOT / "postman" / "node_modules" / ".bin" / "newman"


def _need_newman() -> None:
    missing = [what for what, there in (("node", shutil.which("node") is not None),
                                        ("newman", NEWMAN.exists())) if not there]
    if not missing:
        return
    message = f"{' and '.join(missing)} missing: run (cd postman && npm ci)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"under CI the Postman collection must run: {message}")
    pytest.skip(message)


def test_the_postman_collection_passes_against_a_live_stack(tmp_path: Path) -> None:
    _need_newman()
    report = tmp_path / "newman.json"
    env = {**os.environ, "PYTHON": sys.executable}
    try:
        run = subprocess.run(
            ["bash", "postman/run.sh", "--reporters", "cli,json",
             "--reporter-json-export", str(report)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=scaled(180),
            stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        raise AssertionError(f"postman/run.sh ran over {scaled(180)} s\n{out[-5000:]}") \
            from None
    output = (run.stdout + run.stderr)[-15000:]
    assert run.returncode == 0, f"newman failed:\n{output}"
    stats = json.loads(report.read_text())["run"]["stats"]
    assert stats["assertions"]["failed"] == 0, output
    assert stats["requests"]["failed"] == 0, output
    assert stats["requests"]["total"] >= 25, stats
    assert stats["assertions"]["total"] >= 50, stats
