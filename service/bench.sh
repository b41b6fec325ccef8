#!/usr/bin/env bash
# Benchmark of the request path, wrk through nginx to the app on loopback:
# see service/bench.py. Arguments are passed on to it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" -m service.bench "$@"
