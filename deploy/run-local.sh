#!/usr/bin/env bash
# Start the whole pipeline on this machine: the local RabbitMQ and Redis (installed and started
# if they do not answer), then every Herald service. Ctrl-C stops the services cleanly.
#   bash deploy/run-local.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '==> %s\n' "$*"; }
die() { printf '!!! %s\n' "$*" >&2; exit 1; }

# shellcheck source=ensure-brokers.sh
source deploy/ensure-brokers.sh

if [[ ! -x .venv/bin/python ]]; then
    step "virtualenv .venv"
    python3 -m venv .venv
fi
if ! .venv/bin/python -c "import producer, consumer, aio_pika" 2>/dev/null; then
    step "pip install -e ."
    .venv/bin/python -m pip install -q -e .
fi
exec .venv/bin/python deploy/supervise.py "$@"
