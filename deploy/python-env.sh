#!/usr/bin/env bash
# Herald's Python environment, installed from the lock and nothing else. Sourced by .ci/run,
# deploy/run-local.sh and deploy/lock.sh; expects `step` and `die` to be defined.
#
#   uv.lock                          every Python dependency, runtime and tools, with hashes
#   deploy/requirements/uv.txt       uv itself, pinned with hashes (the bootstrap)
#   deploy/requirements/runtime.txt  the image's part of uv.lock (uv export), with hashes
#   deploy/requirements/build.txt    the image's build backend (uv export), with hashes
#
# uv is installed into its own virtualenv, .tools/uv, from deploy/requirements/uv.txt with
# pip --require-hashes: a fresh machine needs nothing but python3 (3.11+) with venv.

HERALD_UV_DIR=${HERALD_UV_DIR:-.tools/uv}
HERALD_UV="$HERALD_UV_DIR/bin/uv"

# uv never downloads a Python: the machine's is used.
export UV_PYTHON_DOWNLOADS=never
# pip's own settings on a machine (extra indexes, constraints files) must not change what the
# bootstrap installs: the hashes decide.
export PIP_CONFIG_FILE=/dev/null

# The version of uv deploy/requirements/uv.txt pins (pyproject's [tool.uv] required-version).
herald_uv_version() {
    sed -n 's/^uv==\([0-9.]*\).*/\1/p' deploy/requirements/uv.txt
}

# Install the pinned uv into .tools/uv unless it is there already.
herald_uv_bootstrap() {
    local want have=""
    want="$(herald_uv_version)"
    [[ -n "$want" ]] || die "deploy/requirements/uv.txt names no uv version"
    if [[ -x "$HERALD_UV" ]]; then
        have="$("$HERALD_UV" --version 2>/dev/null | awk '{print $2}')"
    fi
    if [[ "$have" != "$want" ]]; then
        step "uv $want into $HERALD_UV_DIR (pip --require-hashes -r deploy/requirements/uv.txt)"
        rm -rf "$HERALD_UV_DIR"
        python3 -m venv "$HERALD_UV_DIR" || die "python3 -m venv failed (apt-get install python3-venv?)"
        "$HERALD_UV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check \
            --no-deps --require-hashes -r deploy/requirements/uv.txt \
            || die "could not install uv from deploy/requirements/uv.txt"
    fi
    "$HERALD_UV" --version
}

# Fail, with the command that fixes it, when pyproject.toml and uv.lock disagree, or when the
# requirements files exported from the lock are not what the lock says.
herald_lock_check() {
    step "uv lock --check (pyproject.toml against uv.lock)"
    if ! "$HERALD_UV" lock --check; then
        die "uv.lock does not match pyproject.toml. Refresh it on purpose and commit both:
    bash deploy/lock.sh            # re-resolve what pyproject.toml changed, keep the rest
    bash deploy/lock.sh --upgrade  # or: every dependency to the newest its range allows"
    fi
    local tmp name
    tmp="$(mktemp -d)"
    herald_export "$tmp"
    for name in runtime build; do
        if ! diff -u "deploy/requirements/$name.txt" "$tmp/$name.txt"; then
            rm -rf "$tmp"
            die "deploy/requirements/$name.txt is not what uv.lock says. Regenerate and commit it:
    bash deploy/lock.sh"
        fi
    done
    rm -rf "$tmp"
    echo "uv.lock and deploy/requirements/*.txt agree with pyproject.toml"
}

# Write the image's requirements (runtime.txt, build.txt) from uv.lock into DIR.
herald_export() {
    local dir=$1
    "$HERALD_UV" export --quiet --frozen --no-default-groups --no-emit-project \
        --format requirements-txt --no-header -o "$dir/runtime.txt"
    "$HERALD_UV" export --quiet --frozen --only-group build --no-emit-project \
        --format requirements-txt --no-header -o "$dir/build.txt"
}

# .venv with exactly what uv.lock pins: the project (editable), herald-client and every
# dependency group. Extra arguments go to `uv sync` (run-local.sh passes --no-default-groups
# --inexact: the runtime only, without removing the tools a test run installed).
herald_sync() {
    step "uv sync --locked $* (.venv from uv.lock)"
    "$HERALD_UV" sync --locked "$@" || die "uv sync --locked failed: uv.lock and pyproject.toml
    disagree (bash deploy/lock.sh), or a package could not be fetched"
}
