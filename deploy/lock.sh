#!/usr/bin/env bash
# Refresh Herald's Python lock on purpose, then commit what changed (uv.lock and
# deploy/requirements/*.txt) together with pyproject.toml, in one commit:
#
#   bash deploy/lock.sh                        # after editing pyproject.toml: re-resolve, keep
#                                              # every pin that still fits
#   bash deploy/lock.sh --upgrade              # every dependency to the newest its range allows
#   bash deploy/lock.sh --upgrade-package redis   # one dependency
#
# Arguments go to `uv lock`. The image's requirements files are exported from the new lock.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '==> %s\n' "$*"; }
die() { printf '!!! %s\n' "$*" >&2; exit 1; }

# shellcheck source=python-env.sh
source deploy/python-env.sh

herald_uv_bootstrap
step "uv lock $*"
"$HERALD_UV" lock "$@"
step "deploy/requirements/{runtime,build}.txt from uv.lock"
herald_export deploy/requirements
git --no-pager diff --stat -- uv.lock deploy/requirements 2>/dev/null || true
echo "Now: bash .ci/run, then commit pyproject.toml, uv.lock and deploy/requirements/ together."
