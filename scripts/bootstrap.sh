#!/usr/bin/env bash
# Shared by scripts/run.sh and scripts/test.sh: make a virtual environment in
# .venv (Debian's system Python refuses pip installs outside one) with the
# given requirements file installed, and print its python's path.
#   usage: source scripts/bootstrap.sh requirements.txt
set -euo pipefail
_req="${1:-requirements.txt}"
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_sudo=""
[ "$(id -u)" -ne 0 ] && _sudo="sudo"
_apt_install() {
    $_sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq "$@" >/dev/null
}
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    _apt_install python3-venv
fi
if [ ! -x "$_root/.venv/bin/python" ]; then
    python3 -m venv "$_root/.venv"
fi
PY="$_root/.venv/bin/python"
_log="$(mktemp)"
# pip's output only matters when it fails.
if ! { "$PY" -m pip install -q -r "$_root/$_req" && \
       "$PY" -m pip install -q --no-deps -e "$_root"; } >"$_log" 2>&1; then
    cat "$_log" >&2
    rm -f "$_log"
    echo "bootstrap: installing $_req failed" >&2
    exit 1
fi
rm -f "$_log"
export PY
