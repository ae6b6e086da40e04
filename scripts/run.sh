#!/usr/bin/env bash
# Install NodeNsync (in .venv) and run it on the default configuration:
# 127.0.0.1:6379, data in ./data.  Extra arguments are passed to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh requirements.txt
exec "$PY" -m nodensync --config conf/nodensync.conf "$@"
