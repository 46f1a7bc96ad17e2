"""Which build runs (common/build_info.py): where the commit comes from, in order, and that
nothing but a hash is ever shown; ``/healthz`` and the first log line carry it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import orjson
import pytest

from common.build_info import UNKNOWN, build_info, read_build_info, valid_commit
from common.health import Readiness, probe
from tests.support.processes import ROOT

pytestmark = pytest.mark.unit

SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="no git binary")


def git_repo(path: Path) -> str:
    """A fresh repository at ``path`` with one commit; its hash."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=path, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false",
        "commit", "-q", "--allow-empty", "-m", "one")
    return git("rev-parse", "HEAD")


def test_version_is_the_installed_distributions() -> None:
    try:
        expected = metadata.version("herald")
    except metadata.PackageNotFoundError:
        expected = UNKNOWN
    assert read_build_info({}, Path("/nonexistent")).version == expected


def test_herald_git_commit_comes_first(tmp_path: Path) -> None:
    env = {"HERALD_GIT_COMMIT": SHA, "RAILWAY_GIT_COMMIT_SHA": OTHER}
    assert read_build_info(env, tmp_path).commit == SHA


def test_railway_commit_when_herald_git_commit_is_not_set(tmp_path: Path) -> None:
    assert read_build_info({"RAILWAY_GIT_COMMIT_SHA": OTHER}, tmp_path).commit == OTHER
    assert read_build_info({"HERALD_GIT_COMMIT": "", "RAILWAY_GIT_COMMIT_SHA": OTHER},
                           tmp_path).commit == OTHER


def test_a_short_or_upper_case_hash_is_taken_trimmed_and_lower_cased(tmp_path: Path) -> None:
    assert read_build_info({"HERALD_GIT_COMMIT": " ABCDEF1\n"}, tmp_path).commit == "abcdef1"


@pytest.mark.parametrize("value", [
    "unknown", "abc123", SHA + "0", "<script>alert(1)</script>", "0123456g", "main",
    f"{SHA}\nforged log line", "abcdef1 ; rm -rf /",
])
def test_anything_but_a_hash_is_never_shown_and_the_next_source_is_used(
    value: str, tmp_path: Path
) -> None:
    assert valid_commit(value) is None
    assert read_build_info({"HERALD_GIT_COMMIT": value}, tmp_path).commit == UNKNOWN
    assert read_build_info({"HERALD_GIT_COMMIT": value, "RAILWAY_GIT_COMMIT_SHA": OTHER},
                           tmp_path).commit == OTHER


@needs_git
def test_the_checkouts_head_when_no_variable_is_set(tmp_path: Path) -> None:
    head = git_repo(tmp_path)
    assert read_build_info({}, tmp_path).commit == head
    assert read_build_info({"HERALD_GIT_COMMIT": SHA}, tmp_path).commit == SHA


def test_unknown_without_a_variable_or_a_checkout(tmp_path: Path) -> None:
    assert read_build_info({}, tmp_path).commit == UNKNOWN  # no .git: git is not even run


@needs_git
def test_unknown_when_git_does_not_answer_for_the_checkout(tmp_path: Path) -> None:
    (tmp_path / ".git").write_text("gitdir: /nonexistent\n")  # a broken worktree link
    assert read_build_info({}, tmp_path).commit == UNKNOWN


def test_unknown_when_there_is_no_git_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert read_build_info({}, tmp_path).commit == UNKNOWN


async def test_healthz_names_the_build() -> None:
    result = await probe("/healthz", Readiness())
    assert result is not None
    assert (result.status, result.content_type) == (200, "application/json")
    build = build_info()
    assert orjson.loads(result.body) == {"status": "ok", "version": build.version,
                                         "commit": build.commit}
    assert build.commit == (valid_commit(build.commit) or UNKNOWN)


@pytest.mark.parametrize("level", ["info", "error"])
def test_the_first_log_line_names_the_build_whatever_the_level(level: str) -> None:
    code = ("from common.logs import configure_logging, get_logger, log_starting\n"
            f"configure_logging('producer', {level!r})\n"
            "log_starting()\n"
            "get_logger().warning('next')\n")
    env = {"PATH": "/usr/bin:/bin", "HERALD_GIT_COMMIT": SHA}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          check=True, timeout=30)
    first = orjson.loads(done.stdout.splitlines()[0])
    assert first["msg"] == "starting"
    assert (first["service"], first["version"], first["commit"]) == (
        "producer", build_info().version, SHA)
