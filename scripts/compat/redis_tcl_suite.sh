#!/usr/bin/env bash
# Run Redis's own test suite (tests/unit/*.tcl, external-server mode) against
# a real redis-server and against NodeNsync (this tree), unit by unit, then
# list the tests that pass on Redis but not on NodeNsync.  Both servers run
# with `enable-debug-command yes` on free loopback ports and are restarted
# (stopped by PID) for every unit.
#   usage: [UNITS="unit/type/list unit/multi ..."] [TAGS="-needs:repl"] [SKIPTEST=/massive] \
#          scripts/compat/redis_tcl_suite.sh REDIS_SOURCE_DIR [WORK_DIR]
# REDIS_SOURCE_DIR: Redis 7.0's source tree (tests/ and runtest), e.g. from
#   `apt-get source redis` (with a deb-src line) or the release tarball; it is
#   copied into WORK_DIR, never changed.  Needs tclsh (Debian's tcl).
# See docs/compatibility.md for what was measured and why tests differ.
set -u
src="$(cd "$1" && pwd)"
work="${2:-/tmp/redis-tcl-compat}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v tclsh >/dev/null || { echo "tclsh is needed (apt-get install tcl)"; exit 2; }
mkdir -p "$work/out"
if [ ! -d "$work/redis" ]; then
    cp -r "$src" "$work/redis"
    mkdir -p "$work/redis/src"
    for b in redis-server redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
        ln -sf "$(command -v $b || echo /usr/bin/$b)" "$work/redis/src/$b"
    done
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
UNITS=${UNITS:-"unit/type/string unit/type/incr unit/type/hash unit/type/list unit/type/list-2
 unit/type/list-3 unit/type/set unit/type/zset unit/expire unit/keyspace unit/multi unit/pubsub
 unit/protocol unit/scan unit/sort unit/bitops unit/bitfield unit/geo unit/hyperloglog unit/dump
 unit/introspection unit/introspection-2 unit/info-command unit/latency-monitor unit/slowlog
 unit/other unit/tracking unit/quit unit/querybuf unit/scripting unit/functions"}

run_unit() {  # run_unit KIND PORT UNIT
    local kind=$1 port=$2 unit=$3 name
    name=$(echo "$unit" | tr / _)
    (cd "$work/redis" && timeout 900 ./runtest --host 127.0.0.1 --port "$port" --single "$unit" \
        --clients 1 --timeout 120 ${TAGS:+--tags "$TAGS"} ${SKIPTEST:+--skiptest "$SKIPTEST"} > "$work/out/${kind}_$name.txt" 2>&1)
    sed -i 's/\x1b\[[0-9;]*m//g' "$work/out/${kind}_$name.txt"
}

for unit in $UNITS; do
    rport=$(free_port); nport=$(free_port)
    rm -rf "$work/redis-data" "$work/node-data"; mkdir -p "$work/redis-data" "$work/node-data"
    (cd "$work/redis-data" && exec redis-server --port "$rport" --bind 127.0.0.1 --save '' \
        --enable-debug-command yes --daemonize no > "$work/redis.log" 2>&1) &
    rpid=$!
    (cd "$root" && exec python3 -m nodensync --listenAddr "127.0.0.1:$nport" \
        --dataDir "$work/node-data" --enable-debug-command yes > "$work/node.log" 2>&1) &
    npid=$!
    for p in $rport $nport; do
        for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.2; done
    done
    run_unit redis "$rport" "$unit"
    run_unit node "$nport" "$unit"
    kill $rpid $npid 2>/dev/null; wait $rpid $npid 2>/dev/null
done
python3 "$root/scripts/compat/compare_tcl.py" "$work/out" | tee "$work/summary.txt"
