#!/usr/bin/env bash
# Herald's own Redis for the one-machine setup (deploy/run-local.sh), sourced, not run.
#
# Redis holds every notification not yet acknowledged, so a Redis that keeps nothing on disk
# loses them all when it restarts. The embedded default therefore runs its own redis-server
# with the append-only file on (fsync every second: at most about one second of writes lost on
# a machine crash, nothing on a clean restart) under var/redis, on its own port (6380), and
# refuses to use a Redis that does not persist. Expects `step` and `die` to be defined.
#
#   herald_redis_start DIR PORT LOGFILE   start it (or reuse a persistent one on PORT)
#   herald_redis_check URL                die unless the Redis at URL has appendonly on
#   herald_redis_stop PORT                SHUTDOWN (the append-only file is flushed first)

herald_redis_cli() {  # herald_redis_cli PORT ARGS...
    local port=$1
    shift
    timeout 5 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null
}

herald_redis_up() {
    [[ "$(herald_redis_cli "$1" ping || true)" == PONG ]]
}

herald_redis_check() {  # herald_redis_check URL
    local url=$1 aof
    aof=$(timeout 5 redis-cli -u "$url" --no-auth-warning config get appendonly 2>/dev/null \
        | sed -n 2p || true)
    case "$aof" in
        yes) echo "append-only file on" ;;
        "") echo "warning: cannot read CONFIG of $url (CONFIG disabled?); make sure it" \
                 "persists (appendonly yes), or a restart loses every buffered notification" >&2 ;;
        *) die "the Redis at $url keeps nothing on disk (appendonly $aof): a restart would lose" \
               "every notification not yet acknowledged. Turn on its append-only file" \
               "(CONFIG SET appendonly yes, and in its redis.conf), or unset REDIS_URL to let" \
               "this script run Herald's own persistent Redis." ;;
    esac
}

herald_redis_start() {  # herald_redis_start DIR PORT LOGFILE
    local dir=$1 port=$2 logfile=$3
    if herald_redis_up "$port"; then
        herald_redis_check "redis://127.0.0.1:$port/0"
        echo "already running on 127.0.0.1:$port"
        return 0
    fi
    mkdir -p "$dir" "$(dirname "$logfile")"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" \
        --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$logfile" \
        --appendonly yes --appendfsync everysec --save "" \
        || die "redis-server did not start (see $logfile)"
    for _ in $(seq 1 50); do
        herald_redis_up "$port" && break
        sleep 0.2
    done
    herald_redis_up "$port" || die "redis-server did not answer PING on 127.0.0.1:$port within 10 s (see $logfile)"
    herald_redis_check "redis://127.0.0.1:$port/0"
    echo "started on 127.0.0.1:$port (data in $dir)"
}

herald_redis_stop() {  # herald_redis_stop PORT
    herald_redis_cli "$1" shutdown >/dev/null || true
}
