# Sourced by the foreign-suite scripts (redispy_suite.sh, fakeredis_suite.sh)
# with $work and $root set.  free_port picks free loopback ports; the script
# first sets rport and nport with it (the tests' copies may need them), then
# calls start_both_servers: redis-server on $rport and NodeNsync (this tree)
# on $nport, each with its own data directory under $work, both stopped by
# PID when the script exits; returns once both answer PING.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_both_servers() {
    mkdir -p "$work/redis-data" && rm -rf "$work/node-data" && mkdir -p "$work/node-data"
    (cd "$work/redis-data" && exec redis-server --port "$rport" --bind 127.0.0.1 --save '' \
        --daemonize no > "$work/redis.log" 2>&1) &
    rpid=$!
    (cd "$root" && exec python3 -m nodensync --listenAddr "127.0.0.1:$nport" \
        --dataDir "$work/node-data" > "$work/node.log" 2>&1) &
    npid=$!
    trap 'kill $rpid $npid 2>/dev/null; wait $rpid $npid 2>/dev/null' EXIT
    local p
    for p in $rport $nport; do
        for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.2; done
    done
}
