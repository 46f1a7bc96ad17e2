"""The lock gate of .ci/run (deploy/python-env.sh's herald_lock_check), run on a copy of the
project's pyproject.toml, uv.lock and exported requirements: it passes as committed, and fails
with the command that fixes it when a version range changes without the lock, or when an
exported requirements file drifts from the lock. Needs the pinned uv in .tools/uv, which
.ci/run installs first (skipped elsewhere unless CI is set)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
UV_DIR = ROOT / ".tools" / "uv"
CHECK = (
    'step() { echo "==> $*"; }; die() { echo "!!! $*" >&2; exit 1; }; '
    "source deploy/python-env.sh; herald_lock_check"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    if not (UV_DIR / "bin" / "uv").exists():
        if os.environ.get("CI"):
            pytest.fail(".tools/uv is missing: .ci/run installs it (deploy/python-env.sh)")
        pytest.skip("no .tools/uv: run bash .ci/run or bash deploy/lock.sh first")
    for name in ("pyproject.toml", "uv.lock", "clients/python/pyproject.toml",
                 "deploy/python-env.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "deploy" / "requirements", tmp_path / "deploy" / "requirements")
    return tmp_path


def check(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HERALD_UV_DIR": str(UV_DIR)}
    return subprocess.run(["bash", "-c", CHECK], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_committed_lock_agrees_with_pyproject(project: Path) -> None:
    result = check(project)
    assert result.returncode == 0, result.stderr
    assert "agree with pyproject.toml" in result.stdout


def test_a_range_changed_without_the_lock_fails_with_the_fix(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert '"mypy>=1.11,<3"' in text
    pyproject.write_text(text.replace('"mypy>=1.11,<3"', '"mypy>=1.11,<2.9"'))
    result = check(project)
    assert result.returncode != 0
    assert "uv.lock does not match pyproject.toml" in result.stderr
    assert "bash deploy/lock.sh" in result.stderr


def test_an_exported_requirements_file_that_drifts_fails(project: Path) -> None:
    runtime = project / "deploy" / "requirements" / "runtime.txt"
    runtime.write_text(runtime.read_text().replace("redis==", "redis==0.", 1))
    result = check(project)
    assert result.returncode != 0
    assert "deploy/requirements/runtime.txt is not what uv.lock says" in result.stderr
