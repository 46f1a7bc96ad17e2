"""Which build is running: Herald's version and the git commit of its code.

An operator looking at a service (``/healthz``, the console's Live page, the first log line of
a process) must be able to tell which build answers, e.g. in the middle of a rolling deploy.
This module is the one place that knows where that comes from:

* version: the installed distribution's metadata (``pyproject.toml``'s ``version``), or
  ``unknown`` when Herald runs from a source tree that is not installed;
* commit, the first that is set: ``HERALD_GIT_COMMIT`` (baked into the image by a build
  argument), ``RAILWAY_GIT_COMMIT_SHA`` (set by Railway at run time), else ``git rev-parse
  HEAD`` in the source checkout (only if it has a ``.git``), else ``unknown``.

Both are read once per process (:func:`build_info` is cached): neither changes while it runs.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = ["COMMIT_ENV", "UNKNOWN", "BuildInfo", "build_info", "read_build_info"]

DISTRIBUTION = "herald"
UNKNOWN = "unknown"
COMMIT_ENV = ("HERALD_GIT_COMMIT", "RAILWAY_GIT_COMMIT_SHA")
"""Where a commit is looked for first, in order; the checkout's ``HEAD`` comes after."""
SOURCE_ROOT = Path(__file__).resolve().parents[1]
"""The directory holding the ``common`` package: a git checkout's root when run from one."""
GIT_TIMEOUT_SECONDS = 2.0

# An environment value is untrusted input that ends up in answers and logs: only a hash passes.
_COMMIT = re.compile(r"[0-9a-f]{7,40}")


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """The running build: ``version`` and ``commit`` (a lower-case hex hash, or ``unknown``)."""

    version: str
    commit: str

    def as_dict(self) -> dict[str, str]:
        """``{"version", "commit"}``: the fields as ``/healthz`` and the logs carry them."""
        return {"version": self.version, "commit": self.commit}


def valid_commit(value: str | None) -> str | None:
    """``value`` lower-cased if it looks like a git hash (7 to 40 hex digits), else ``None``."""
    if value is None:
        return None
    value = value.strip().lower()
    return value if _COMMIT.fullmatch(value) else None


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN


def _git_head(root: Path) -> str | None:
    """``HEAD`` of the checkout at ``root``; ``None`` if it is none or git does not answer."""
    if not (root / ".git").exists():  # a directory, or a file in a worktree
        return None
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
            timeout=GIT_TIMEOUT_SECONDS, check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git binary, timeout, ...
        return None
    return done.stdout if done.returncode == 0 else None


def read_build_info(env: Mapping[str, str] | None = None,
                    root: Path = SOURCE_ROOT) -> BuildInfo:
    """The build, read now from ``env`` (default: the process environment) and ``root``.

    A set but malformed variable is skipped (the next source is tried), so a bad value never
    shows up anywhere; :func:`build_info` is the cached answer services use."""
    env = os.environ if env is None else env
    for name in COMMIT_ENV:
        if commit := valid_commit(env.get(name)):
            return BuildInfo(_version(), commit)
    return BuildInfo(_version(), valid_commit(_git_head(root)) or UNKNOWN)


@functools.cache
def build_info() -> BuildInfo:
    """The running build, read once per process."""
    return read_build_info()
