#!/usr/bin/env bash
# Run Redis's own test suite in its normal mode -- the framework starts a
# server per test group from a generated redis.conf, restarts and kills it --
# against real redis-server and against NodeNsync (this tree), unit by unit,
# then list the tests that pass on Redis but not on NodeNsync.  NodeNsync is
# started through scripts/compat/redis_server_shim.py, installed as the
# `src/redis-server` of a copy of Redis's source tree.  This reaches the
# units the external mode skips (acl, auth, info, maxmemory, obuf-limits,
# networking, shutdown, the integration tests ...).  Every server runs on
# loopback ports the framework picks from BASEPORT (default 26000) and is
# stopped by its PID.
#   usage: [UNITS="unit/info unit/auth ..."] [LANES=2] [KINDS="node"] \
#          scripts/compat/redis_tcl_spawned.sh REDIS_SOURCE_DIR [WORK_DIR]
# REDIS_SOURCE_DIR: Redis 7.0's source tree (tests/ and runtest); copied,
#   never changed.  Needs tclsh (Debian's tcl).  See docs/compatibility.md.
set -u
src="$(cd "$1" && pwd)"
work="${2:-/tmp/redis-tcl-spawned}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v tclsh >/dev/null || { echo "tclsh is needed (apt-get install tcl)"; exit 2; }
LANES=${LANES:-2}
BASEPORT=${BASEPORT:-26000}
UNITS=${UNITS:-"unit/printver unit/auth unit/acl unit/acl-v2 unit/info unit/limits unit/maxmemory
 unit/memefficiency unit/networking unit/obuf-limits unit/client-eviction unit/shutdown unit/wait
 unit/pubsubshard unit/lazyfree unit/latency-monitor unit/querybuf unit/replybufsize unit/aofrw
 unit/oom-score-adj unit/introspection unit/other unit/keyspace unit/dump unit/expire
 integration/rdb integration/aof integration/aof-multi-part integration/logging integration/shutdown
 integration/replication integration/replication-2 integration/replication-3 integration/replication-4
 integration/replication-psync integration/replication-buffer integration/block-repl
 integration/psync2 integration/psync2-reg integration/psync2-pingoff integration/psync2-master-restart
 integration/redis-cli integration/redis-benchmark integration/convert-zipmap-hash-on-load
 integration/convert-ziplist-hash-on-load integration/convert-ziplist-zset-on-load integration/failover"}
mkdir -p "$work/out"
for kind in redis node; do
    for lane in $(seq "$LANES"); do
        tree="$work/$kind-$lane"
        [ -d "$tree" ] && continue
        mkdir -p "$tree/src"
        cp -r "$src/tests" "$src/runtest" "$tree/"
        for b in redis-cli redis-benchmark redis-check-aof redis-check-rdb redis-server; do
            ln -sf "$(command -v $b || echo /usr/bin/$b)" "$tree/src/$b"
        done
        if [ "$kind" = node ]; then
            ln -sf "$root/scripts/compat/redis_server_shim.py" "$tree/src/redis-server"
        fi
    done
done

run_lane() {  # run_lane LANE UNIT...
    local lane=$1; shift
    local unit name kind port=$((BASEPORT + (lane - 1) * 2000))
    for unit in "$@"; do
        name=$(echo "$unit" | tr / _)
        for kind in ${KINDS:-redis node}; do
            (cd "$work/$kind-$lane" && rm -rf tests/tmp/* && NODENSYNC_TREE="$root" \
                timeout "${UNIT_TIMEOUT:-1200}" ./runtest --single "$unit" --clients 1 \
                --timeout 300 --baseport "$port" > "$work/out/${kind}_$name.txt" 2>&1)
            sed -i 's/\x1b\[[0-9;]*m//g' "$work/out/${kind}_$name.txt"
        done
    done
}

units=($UNITS)
for lane in $(seq "$LANES"); do
    mine=()
    for ((i = lane - 1; i < ${#units[@]}; i += LANES)); do mine+=("${units[$i]}"); done
    run_lane "$lane" "${mine[@]}" &
done
wait
python3 "$root/scripts/compat/compare_tcl.py" "$work/out" | tee "$work/summary.txt"
