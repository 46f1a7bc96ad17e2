#!/usr/bin/env bash
# Start the whole pipeline on this machine: RabbitMQ (installed and started if it does not
# answer), Herald's own Redis with its append-only file under var/redis (port 6380), then every
# Herald service. Ctrl-C stops the services cleanly, then that Redis.
#   bash deploy/run-local.sh                       # JWT mode: prints a token for bob
#   AUTH_MODE=trusted bash deploy/run-local.sh     # demo mode: a bare userId is enough
# REDIS_URL=… uses another Redis instead, if it persists (appendonly yes); HERALD_REDIS_PORT
# moves Herald's own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '==> %s\n' "$*"; }
die() { printf '!!! %s\n' "$*" >&2; exit 1; }

# The shared 6379 Redis keeps nothing on disk (it is the test suite's): not started here.
ENSURE_REDIS=0
# shellcheck source=ensure-brokers.sh
source deploy/ensure-brokers.sh
# shellcheck source=herald-redis.sh
source deploy/herald-redis.sh

redis_port=${HERALD_REDIS_PORT:-6380}
started_redis=0
if [[ -n "${REDIS_URL:-}" ]]; then
    step "redis at REDIS_URL"
    herald_redis_check "$REDIS_URL"
else
    step "herald's redis on 127.0.0.1:$redis_port (append-only file in var/redis)"
    herald_redis_up "$redis_port" || started_redis=1
    herald_redis_start "$PWD/var/redis" "$redis_port" "$PWD/var/log/redis.log"
    export REDIS_URL="redis://127.0.0.1:$redis_port/0"
fi
stop_redis() {
    if ((started_redis)); then
        herald_redis_stop "$redis_port"
        echo "redis on 127.0.0.1:$redis_port stopped (data kept in var/redis)"
    fi
}
trap stop_redis EXIT

# .venv from uv.lock: the services and their locked dependencies (tools a test run installed
# stay).
# shellcheck source=python-env.sh
source deploy/python-env.sh
herald_uv_bootstrap >/dev/null
herald_sync --quiet --no-default-groups --inexact
.venv/bin/python deploy/supervise.py "$@"
