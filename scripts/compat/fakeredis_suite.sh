#!/usr/bin/env bash
# Run fakeredis's test suite -- the variants of its tests that talk to a
# real server (pytest marker `real`) -- against a real redis-server and
# against NodeNsync (this tree), then list the tests that pass on Redis but
# not on NodeNsync.  fakeredis's authors check their emulation against a real
# Redis with these tests, so they are a third party's idea of how Redis
# behaves, command by command, in RESP2 and RESP3, sync and asyncio clients.
# The `hypothesis` suite runs fakeredis's state machines, which send random
# command sequences to fakeredis and to the real server and compare the
# replies: it passes where the server agrees with fakeredis's model.
#   usage: [SUITES="mixins async other hypothesis"] [FAKEREDIS_HYPOTHESIS_EXAMPLES=250] \
#          scripts/compat/fakeredis_suite.sh FAKEREDIS_SOURCE_DIR [WORK_DIR]
# FAKEREDIS_SOURCE_DIR: an unpacked fakeredis source distribution (it has
# test/), e.g. `pip download --no-binary :all: --no-deps fakeredis==2.41.0`.
# Its tests expect the real server on localhost:6390: each server gets its
# own copy of test/ with that address replaced by 127.0.0.1 and a free
# loopback port, and fakeredis's Hypothesis profile gets no per-example
# deadline (the only changes made).  Both servers are stopped by PID.
# See docs/compatibility.md.
set -u
src="$(cd "$1" && pwd)"
work="${2:-/tmp/fakeredis-compat}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/scripts/compat"
mkdir -p "$work"
if [ ! -x "$work/venv/bin/python" ]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q "redis==8.1.0" valkey sortedcontainers lupa pytest pytest-asyncio \
        pytest-timeout pytest-mock hypothesis jsonpath-ng pyprobables xxhash
    "$work/venv/bin/pip" install -q --no-deps "$src"      # (the package under test: that source)
fi
source "$here/both_servers.sh"
rport=$(free_port); nport=$(free_port)
for kind in ref node; do
    port=$rport; [ "$kind" = node ] && port=$nport
    rm -rf "$work/$kind" && mkdir -p "$work/$kind"
    cp -r "$src/test" "$src/pyproject.toml" "$work/$kind/"
    find "$work/$kind/test" -name '*.py' -exec sed -i \
        -e "s/\"localhost\", port=6390/\"127.0.0.1\", port=$port/g" \
        -e "s/\"localhost\", 6390/\"127.0.0.1\", $port/g" \
        -e "s/\"host\": \"localhost\", \"port\": 6390/\"host\": \"127.0.0.1\", \"port\": $port/g" \
        -e "s/localhost:6390/127.0.0.1:$port/g" {} +
    # No per-example deadline for the state machines: timing is not what we compare.
    sed -i 's/settings.register_profile("fakeredis", /&deadline=None, /' \
        "$work/$kind/test/test_hypothesis/conftest.py"
done
start_both_servers

run() {  # run KIND OUTPUT_PREFIX MARKERS PATHS...
    local kind=$1 out=$2 markers=$3; shift 3
    (cd "$work/$kind" && COMPAT_PORTS="$rport $nport" PYTHONPATH="$here" \
        timeout 1800 "$work/venv/bin/python" -m pytest -p netguard -p no:cacheprovider \
        -o addopts="" -q --tb=line --timeout 30 --junitxml="$out.xml" -m "$markers" \
        "$@" > "$out.txt" 2>&1)
    echo "$(basename "$out"): $(tail -n 1 "$out.txt")"
}
for suite in ${SUITES:-mixins async other hypothesis}; do
    markers=real
    case $suite in
        mixins) paths="test/test_mixins" ;;
        async) paths="test/test_async" ;;
        other) paths="test/test_keyspace_notifications.py" ;;
        hypothesis) paths="test/test_hypothesis"; markers="not slow or slow" ;;
    esac
    # shellcheck disable=SC2086
    run ref "$work/ref_$suite" "$markers" $paths
    # shellcheck disable=SC2086
    run node "$work/node_$suite" "$markers" $paths
    python3 "$here/compare_junit.py" "$work/ref_$suite.xml" "$work/node_$suite.xml" \
        > "$work/diff_$suite.txt"
    echo "  $(head -n 1 "$work/diff_$suite.txt")  (details: $work/diff_$suite.txt)"
done
