#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds agency-ha (Release) and runs the local failover drill.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAHA_BUILD_TESTS=OFF -DAHA_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target agency-ha
exec ./build/agency-ha demo "$@"
