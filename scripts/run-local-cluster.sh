#!/usr/bin/env bash
# run-local-cluster.sh: run an N-node NodeNsync cluster on this host.
#
# One NodeNsync process uses one core (gevent, one event loop); a cluster of
# several processes on one machine is how a multi-core host is used fully:
# each master serves its own third (or quarter ...) of the hash slots.
#
#   scripts/run-local-cluster.sh start   [-n NODES] [-r REPLICAS] [-p BASE_PORT] [-d DIR] [-- ARGS...]
#   scripts/run-local-cluster.sh stop    [-d DIR]
#   scripts/run-local-cluster.sh status  [-d DIR]
#
# start launches NODES processes on 127.0.0.1:BASE_PORT.. (data port) with
# their cluster bus on BASE_PORT+10000.. (Raft), each with its own data
# directory and log in DIR/<port>/, then creates the cluster with REPLICAS
# replicas per master (scripts/nodensync-cluster create).  Defaults: 6 nodes,
# 1 replica, port 7000, DIR=./local-cluster.  ARGS after -- go to every node
# (e.g. -- --clusterNodeTimeout 5000 --appendonly yes).  With -P the nodes
# are pinned round-robin to the host's cores (taskset), one per core.
#
# Connect with:  redis-cli -c -p 7000      (or redis-py RedisCluster)
# Check with:    scripts/nodensync-cluster check 127.0.0.1:7000
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PY="${PYTHON:-python3}"

cmd="${1:-}"
[ -n "$cmd" ] && shift || true
NODES=6
REPLICAS=1
BASE=7000
DIR="./local-cluster"
PIN=0
while [ $# -gt 0 ]; do
    case "$1" in
        -n) NODES="$2"; shift 2 ;;
        -r) REPLICAS="$2"; shift 2 ;;
        -p) BASE="$2"; shift 2 ;;
        -d) DIR="$2"; shift 2 ;;
        -P) PIN=1; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done
EXTRA=("$@")

ping_port() {
    "$PY" - "$1" <<'EOF'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
EOF
}

case "$cmd" in
start)
    mkdir -p "$DIR"
    cores=$(nproc 2>/dev/null || echo 1)
    addrs=()
    for ((i = 0; i < NODES; i++)); do
        port=$((BASE + i))
        bus=$((port + 10000))
        d="$DIR/$port"
        mkdir -p "$d"
        pin=()
        if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then
            pin=(taskset -c $((i % cores)))
        fi
        d="$(cd "$d" && pwd)"
        PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" nohup ${pin[@]+"${pin[@]}"} "$PY" -m nodensync \
            --listenAddr "127.0.0.1:$port" --dataDir "$d" --clusterEnabled yes \
            --clusterBusPort "$bus" ${EXTRA[@]+"${EXTRA[@]}"} >"$d/node.log" 2>&1 </dev/null &
        echo $! >"$d/node.pid"
        addrs+=("127.0.0.1:$port")
    done
    for a in "${addrs[@]}"; do
        port="${a##*:}"
        for _ in $(seq 1 100); do ping_port "$port" && break; sleep 0.1; done
        ping_port "$port" || { echo "node on $port did not start, see $DIR/$port/node.log" >&2; exit 1; }
    done
    if [ -f "$DIR/$BASE/nodes.conf" ] && grep -q '"joined": true' "$DIR/$BASE/nodes.conf"; then
        echo "Restarted an existing cluster."
    else
        "$PY" "$HERE/nodensync-cluster" create "${addrs[@]}" --replicas "$REPLICAS" --yes
    fi
    echo "Cluster up: redis-cli -c -p $BASE"
    ;;
stop)
    for f in "$DIR"/*/node.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || true
        rm -f "$f"
    done
    echo "stopped"
    ;;
status)
    for f in "$DIR"/*/node.pid; do
        [ -f "$f" ] || continue
        d=$(dirname "$f")
        pid=$(cat "$f")
        if kill -0 "$pid" 2>/dev/null; then state=running; else state=dead; fi
        echo "$(basename "$d") pid $pid $state"
    done
    ;;
*)
    sed -n '2,24p' "$0"
    exit 1
    ;;
esac
