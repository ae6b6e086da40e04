#!/usr/bin/env bash
# Run redis-py's own test suite against a real redis-server and against
# NodeNsync (this tree), then list the tests that pass on Redis but not on
# NodeNsync.  Both servers run on free loopback ports and are stopped by PID.
#   usage: [SUITES="commands commands_resp2 misc async"] \
#          scripts/compat/redispy_suite.sh REDIS_PY_SOURCE_DIR [WORK_DIR]
# REDIS_PY_SOURCE_DIR: an unpacked redis-py source distribution (tests/ included);
# it is copied into WORK_DIR, never changed.  See docs/compatibility.md.
source "$(dirname "${BASH_SOURCE[0]}")/redispy_setup.sh"
source "$here/both_servers.sh"
rport=$(free_port); nport=$(free_port)
start_both_servers

FILES_COMMANDS="tests/test_commands.py"
FILES_MISC="tests/test_pipeline.py tests/test_pubsub.py tests/test_encoding.py tests/test_lock.py
 tests/test_monitor.py tests/test_keyspace_notifications.py tests/test_connection.py
 tests/test_connection_pool.py tests/test_client.py tests/test_hash.py tests/test_command_parser.py
 tests/test_multiprocessing.py tests/test_retry.py tests/test_legacy_responses_arg.py
 tests/test_max_connections_error.py tests/test_cache.py tests/test_data_structure.py
 tests/test_background.py tests/test_helpers.py tests/test_utils.py"
FILES_ASYNC="tests/test_asyncio/test_commands.py tests/test_asyncio/test_pipeline.py
 tests/test_asyncio/test_pubsub.py tests/test_asyncio/test_encoding.py tests/test_asyncio/test_monitor.py
 tests/test_asyncio/test_keyspace_notifications.py tests/test_asyncio/test_connection.py
 tests/test_asyncio/test_connection_pool.py tests/test_asyncio/test_client.py
 tests/test_asyncio/test_hash.py tests/test_asyncio/test_cwe_404.py tests/test_asyncio/test_lock.py"

run() {  # run PORT OUTPUT_PREFIX FILES... [pytest options]
    local port=$1 out=$2; shift 2
    (cd "$work/redis-py" && COMPAT_PORTS="$rport $nport" PYTHONPATH="$here" \
        timeout 1800 "$work/venv/bin/python" -m pytest -p netguard -p no:cacheprovider \
        -o addopts="" -q --tb=line --timeout 30 --junitxml="$out.xml" \
        --redis-url="redis://127.0.0.1:$port/0" --redis-mod-url="redis://127.0.0.1:$port/0" \
        --redis-ssl-url="rediss://127.0.0.1:$port" --sentinels="127.0.0.1:$port" \
        -m "not replica and not onlycluster" --deselect tests/test_pubsub.py::TestPubSubRedisDown \
        "$@" > "$out.txt" 2>&1)
    echo "$(basename "$out"): $(tail -n 1 "$out.txt")"
}
for suite in ${SUITES:-commands commands_resp2 misc async}; do
    case $suite in
        commands) files=$FILES_COMMANDS; extra="" ;;
        commands_resp2) files=$FILES_COMMANDS; extra="--protocol=2" ;;
        misc) files=$FILES_MISC; extra="" ;;
        async) files=$FILES_ASYNC; extra="" ;;
    esac
    # shellcheck disable=SC2086
    run "$rport" "$work/ref_$suite" $files $extra
    # shellcheck disable=SC2086
    run "$nport" "$work/node_$suite" $files $extra
    python3 "$here/compare_junit.py" "$work/ref_$suite.xml" "$work/node_$suite.xml" \
        > "$work/diff_$suite.txt"
    echo "  $(head -n 1 "$work/diff_$suite.txt")  (details: $work/diff_$suite.txt)"
done
