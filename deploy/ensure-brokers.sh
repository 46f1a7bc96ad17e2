#!/usr/bin/env bash
# Make sure the local Redis (127.0.0.1:6379, unless ENSURE_REDIS=0) and RabbitMQ (127.0.0.1:5672) answer: install them
# with apt-get where missing, start them where stopped. Sourced by .ci/run and
# deploy/run-local.sh; expects `step` and `die` to be defined.

export DEBIAN_FRONTEND=noninteractive

REDIS_HOST=127.0.0.1
REDIS_PORT=6379

# --- system packages ---------------------------------------------------------------------
step "system packages: redis-server, rabbitmq-server"
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
if ((${#missing[@]} > 0)); then
    echo "installing: ${missing[*]}"
    # Keep the packages' maintainer scripts from starting the daemons (there may be no init
    # system here); this script starts them itself below. Only if no policy is in place already.
    policy_added=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_added=1
    fi
    apt-get update </dev/null
    apt_rc=0
    apt-get install -y --no-install-recommends redis-server rabbitmq-server </dev/null || apt_rc=$?
    if ((policy_added)); then rm -f /usr/sbin/policy-rc.d; fi
    ((apt_rc == 0)) || die "apt-get install redis-server rabbitmq-server failed (exit $apt_rc)"
else
    echo "already installed"
fi

# --- Redis -------------------------------------------------------------------------------
redis_up() {
    [[ "$(timeout 5 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null || true)" == PONG ]]
}

# deploy/run-local.sh sets ENSURE_REDIS=0: it runs Herald's own persistent Redis instead
# (deploy/herald-redis.sh); this one, without persistence, is for the test suite.
if [[ "${ENSURE_REDIS:-1}" == 0 ]]; then
    :
elif redis_up; then
    step "redis on $REDIS_HOST:$REDIS_PORT"
    echo "already running"
else
    step "redis on $REDIS_HOST:$REDIS_PORT"
    mkdir -p /var/lib/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir /var/lib/redis
    for _ in $(seq 1 30); do
        redis_up && break
        sleep 1
    done
    redis_up || die "redis-server did not answer PING on $REDIS_HOST:$REDIS_PORT within 30 s"
    echo "started"
fi

# --- RabbitMQ ----------------------------------------------------------------------------
rabbit_up() {
    timeout 20 rabbitmq-diagnostics -q check_running >/dev/null 2>&1 \
        && python3 deploy/amqp-handshake.py 127.0.0.1 5672
}

step "rabbitmq"
if rabbit_up; then
    echo "already running"
else
    if pgrep -f 'beam.smp.*rabbit' >/dev/null; then
        # Running but not answering AMQP: stop it (politely, then not) before starting again.
        echo "rabbitmq runs but does not answer AMQP; restarting it"
        timeout 30 rabbitmqctl stop >/dev/null 2>&1 || pkill -9 -f 'beam.smp.*rabbit' || true
        sleep 2
    fi
    rabbitmq-server -detached </dev/null || echo "rabbitmq-server -detached exited $? (waiting anyway)"
    deadline=$((SECONDS + 120))
    until rabbit_up; do
        if ((SECONDS >= deadline)); then
            echo "--- last lines of the RabbitMQ logs:" >&2
            tail -n 40 /var/log/rabbitmq/*.log /var/log/rabbitmq/startup_* 2>/dev/null >&2 || true
            die "rabbitmq did not come up within 120 s (rabbitmq-diagnostics check_running)"
        fi
        sleep 2
    done
    echo "started"
fi
