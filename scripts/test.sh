#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds agency-ha with AddressSanitizer + UBSan and runs every
# test through ctest (unit tests in GoogleTest, system tests with `node --test`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test

build=${AHA_TEST_BUILD_DIR:-build-asan}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAHA_SANITIZE=ON -DAHA_BUILD_BENCH=ON
cmake --build "$build" -j"$(nproc)"

# Real helm and kubectl for the chart and API-server fidelity tests.
export HELM=${HELM:-$PWD/node_modules/.tools/helm/helm}
if [ -z "${KUBECTL:-}" ]; then
  if command -v kubectl >/dev/null 2>&1; then KUBECTL=$(command -v kubectl); else KUBECTL=$PWD/node_modules/.tools/kubectl/kubectl; fi
  export KUBECTL
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure --timeout 900 -j2 "$@"
