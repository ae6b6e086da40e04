# Sourced by redispy_suite.sh and redispy_cluster_suite.sh with their
# arguments: sets src (redis-py's source, $1), work (the work directory, $2 or
# /tmp/redispy-compat), root (this tree) and here (scripts/compat); copies the
# source into $work once and makes the venv redis-py's tests run in.
set -u
src="$(cd "$1" && pwd)"
work="${2:-/tmp/redispy-compat}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/scripts/compat"
mkdir -p "$work"
[ -d "$work/redis-py" ] || cp -r "$src" "$work/redis-py"
if [ ! -x "$work/venv/bin/python" ]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q pytest pytest-asyncio pytest-timeout mock packaging hiredis ujson numpy
    "$work/venv/bin/pip" install -q -e "$work/redis-py"
fi
