#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang in their own build directory and runs each one
# briefly on its seed corpus. Exits non-zero when the fuzzer finds a crash (the reproducer is left
# in the build directory as crash-*/oom-*/timeout-*).
# Usage: scripts/fuzz.sh [TARGET...]   (default: every target)
#   FUZZ_SECONDS   run time per target (default 30)
#   FUZZ_RUNS      run this many executions per target instead (no time limit); docs/FUZZING.md
#   FUZZ_TIMEOUT   seconds one input may take (default 10; raise it on a loaded machine)
#   FUZZ_SANITIZERS sanitizers besides libFuzzer (default address,undefined; "undefined" runs
#                  several times faster, for long runs)
#   FUZZ_BUILD_DIR build directory (default build-fuzz in the repo)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${FUZZ_SECONDS:-30}
runs=${FUZZ_RUNS:-}
timeout=${FUZZ_TIMEOUT:-10}
sanitizers=${FUZZ_SANITIZERS-address,undefined}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}

fuzzer_runtime() {
  compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null ||
    compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/*/libclang_rt.fuzzer.a' >/dev/null
}
# The test command installs clang and libFuzzer up front (scripts/setup.sh test); this script
# installs nothing, so running it from ctest never calls apt-get.
if ! command -v clang++ >/dev/null || ! fuzzer_runtime; then
  echo "fuzz: clang++ and the libFuzzer runtime are missing; run: bash scripts/setup.sh test" \
    "(Debian packages clang libclang-rt-14-dev)" >&2
  exit 1
fi

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAHA_BUILD_TESTS=OFF -DAHA_BUILD_BENCH=OFF \
  -DAHA_FUZZ_SANITIZERS="$sanitizers" >/dev/null
# Targets: the arguments, else every one (each has seeds in fuzz/corpus/<name without _fuzz>/ and
# optionally a dictionary fuzz/<name without _fuzz>.dict).
all_targets=(jsonrpc_fuzz s3xml_fuzz state_keys_fuzz record_fuzz)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
cmake --build "$build" --target "${targets[@]}"

run() {
  local name=$1
  local work="$build/corpus-$name" dict=()
  [ -f "$root/fuzz/${name%_fuzz}.dict" ] && dict=(-dict="$root/fuzz/${name%_fuzz}.dict")
  mkdir -p "$work"
  # New inputs go to the scratch corpus in the build directory; the seeds in the repo stay as they are.
  local limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  (cd "$build" && "$build/fuzz/$name" "${limit[@]}" -max_len=8192 -timeout="$timeout" \
    -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="$build/" "$work" "$root/fuzz/corpus/${name%_fuzz}")
}
for t in "${targets[@]}"; do
  run "$t"
  echo "fuzz: $t ran ${runs:-${seconds}s} ${runs:+executions }without a crash"
done
