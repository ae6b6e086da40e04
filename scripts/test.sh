#!/usr/bin/env bash
# Install everything the test suite needs, then run the whole suite:
# redis-server/redis-tools (the reference the differential tests compare
# with), openssl (test certificates), systemd-analyze (unit check) from apt
# when missing; Python requirements into .venv.  Arguments go to pytest
# (after -n 2: two test workers).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    sudo_=""
    [ "$(id -u)" -ne 0 ] && sudo_="sudo"
    $sudo_ apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian's redis-server package may start a service on 6379; the tests use
# their own servers on free ports and never touch it.
source scripts/bootstrap.sh requirements-test.txt
# Two workers by default (pytest-xdist; every test uses its own servers on
# ports the OS picks): NODENSYNC_TEST_WORKERS=0 runs in one process.
exec "$PY" -m pytest -n "${NODENSYNC_TEST_WORKERS:-2}" "$@"
