#!/usr/bin/env bash
# Runs Herald's Postman collection with newman against a live stack, then stops it.
#
#   bash postman/run.sh [newman options...]      (from anywhere; needs `npm ci` in postman/)
#
# Starts a producer and a consumer (what the collection's routes need) on free ports of
# 127.0.0.1, under a fresh HERALD_PREFIX, with a fresh JWT secret, a fresh bootstrap admin key
# (ADMIN_API_KEY → adminKey) and a key of tenant `default` with every scope made by
# `python -m producer.admin` (→ apiKey), a SQLite store in a temporary folder, and the
# RabbitMQ and Redis of RABBITMQ_URL / REDIS_URL (default: the local ones). Runs newman with
# baseUrl, apiKey, adminKey and userToken set; extra arguments go to newman. On exit, whatever
# happened, it stops both services (SIGTERM), deletes the prefix's queues, exchanges and Redis
# keys, and removes the temporary folder (logs are printed first if newman failed). Exit
# status: newman's, or 3 when newman is not installed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

NEWMAN=postman/node_modules/.bin/newman
if [[ ! -x $NEWMAN ]]; then
    echo "postman/run.sh: newman is not installed: run (cd postman && npm ci)" >&2
    exit 3
fi
if [[ -z ${PYTHON:-} ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
FACTOR=${HERALD_TEST_TIMEOUT_FACTOR:-1}

work=$(mktemp -d)
pids=()
prefix="pm$("$PYTHON" -c 'import secrets; print(secrets.token_hex(4))')"
status=1

cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if ((status != 0)); then
        for log in "$work"/*.log; do
            [[ -f $log ]] && { echo "--- $(basename "$log") ---"; tail -n 40 "$log"; } >&2
        done
    fi
    "$PYTHON" - "$prefix" <<'EOF' || echo "postman/run.sh: could not delete prefix $prefix" >&2
import asyncio, os, sys

import aio_pika
from redis.asyncio import Redis

from common.naming import Names
from tests.support.amqp import delete_topology


async def main(prefix: str) -> None:
    connection = await aio_pika.connect(
        os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    try:
        await delete_topology(connection, Names(prefix))
    finally:
        await connection.close()
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 500):
            await redis.delete(*keys[start:start + 500])
    finally:
        await redis.aclose()


asyncio.run(main(sys.argv[1]))
EOF
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
producer_port=$(free_port)
consumer_port=$(free_port)
secret=$("$PYTHON" -c 'import secrets; print(secrets.token_hex(32))')
admin_key=$("$PYTHON" -c 'import secrets; print("pm-admin-" + secrets.token_hex(24))')

export HERALD_PREFIX=$prefix HOST=127.0.0.1 JWT_SECRET=$secret ADMIN_API_KEY=$admin_key \
    STORE_URL="sqlite:///$work/herald.db" LOG_LEVEL=info
"$PYTHON" -m producer.admin tenants create default >/dev/null
api_key=$("$PYTHON" -m producer.admin keys create default --name postman \
    --scopes events:write,notifications:read,tokens:write,admin |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["key"])')
PORT=$producer_port "$PYTHON" -m producer >"$work/producer.log" 2>&1 &
pids+=($!)
PORT=$consumer_port "$PYTHON" -m consumer >"$work/consumer.log" 2>&1 &
pids+=($!)

# Both answer /readyz (RabbitMQ, Redis, the store) before newman starts.
"$PYTHON" - "$FACTOR" "$producer_port" "$consumer_port" <<'EOF'
import sys, time, urllib.request

deadline = time.monotonic() + 30 * float(sys.argv[1])
for port in sys.argv[2:]:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"postman/run.sh: the service on port {port} is not ready")
        time.sleep(0.1)
EOF

user_token=$("$PYTHON" -c '
import sys, time, jwt
print(jwt.encode({"sub": "bob", "exp": int(time.time()) + 3600}, sys.argv[1], algorithm="HS256"))
' "$secret")

# A slow machine (HERALD_TEST_TIMEOUT_FACTOR) gets longer waits, as the Python tests do.
max_polls=$("$PYTHON" -c 'import sys; print(int(60 * float(sys.argv[1])))' "$FACTOR")
request_ms=$("$PYTHON" -c 'import sys; print(int(10000 * float(sys.argv[1])))' "$FACTOR")

status=0
"$NEWMAN" run postman/herald.postman_collection.json \
    --env-var "baseUrl=http://127.0.0.1:$producer_port" \
    --env-var "apiKey=$api_key" \
    --env-var "adminKey=$admin_key" \
    --env-var "userToken=$user_token" \
    --env-var "user=bob" \
    --env-var "maxPolls=$max_polls" \
    --timeout-request "$request_ms" \
    --disable-unicode --color off \
    "$@" || status=$?
exit "$status"
