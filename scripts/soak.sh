#!/usr/bin/env bash
# The chaos soak, long: three supervised nodes (qmesh-supervisor + qmesh-router + llama-server
# on the demo model each) under 32 concurrent streams while a seeded schedule kill -9s
# llama-servers and routers, SIGSTOPs/SIGCONTs llama-servers and, as root with iproute2 and
# iptables, partitions nodes. The same test runs for 60 s in ctest (chaos_soak_tests); the
# invariants are listed at the top of tests/integration/soak/chaos_soak_test.cpp.
#
#   scripts/soak.sh [SECONDS] [SEED]     default 600 s of faults, a random seed (printed)
#
# Builds what it needs in build-asan/ (SOAK_BUILD to use another build folder), writes the
# whole log to <build>/soak.log, prints the report and exits 1 if an invariant broke.
# Needs the packaged llama-server and demo model (scripts/setup.sh, or scripts/test.sh once).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
SOAK_SECONDS="${1:-600}"
SEED="${2:-}"
[[ "$SOAK_SECONDS" =~ ^[0-9]+$ && "$SEED" =~ ^[0-9]*$ ]] || { echo "usage: scripts/soak.sh [SECONDS] [SEED]" >&2; exit 2; }
BUILD="${SOAK_BUILD:-$REPO_ROOT/build-asan}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$REPO_ROOT")}" CCACHE_NOHASHDIR=1

log() { printf '[soak] %s\n' "$*"; }

for f in third_party_bins/linux-x64/llama-server third_party_bins/models/demo.gguf; do
  [[ -e "$f" ]] || { log "error: $f is missing; run scripts/setup.sh first"; exit 1; }
done
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD" -DQMESH_SANITIZE=address -DQMESH_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=None >/dev/null
fi
cmake --build "$BUILD" -j"${SOAK_JOBS:-$(nproc)}" --target chaos_soak_tests qmesh-router qmesh-supervisor >/dev/null

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
LOG="$BUILD/soak.log"
log "running ${SOAK_SECONDS} s of faults${SEED:+ with seed $SEED}; full log: $LOG"
rc=0
QMESH_SOAK_SECONDS="$SOAK_SECONDS" QMESH_SOAK_SEED="$SEED" QMESH_SOURCE_DIR="$REPO_ROOT" QMESH_BUILD_DIR="$BUILD" \
  "$BUILD/tests/integration/chaos_soak_tests" >"$LOG" 2>&1 &
pid=$!
# Interrupted, the test ends its fault phase early and tears everything down itself.
trap 'kill -INT "$pid" 2>/dev/null || true' INT TERM
wait "$pid" || rc=$?
# A trapped signal ends the first wait early: wait again for the teardown to finish.
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || rc=$?; done
grep -F '[ soak ] VIOLATION' "$LOG" | head -20 || true
grep -A3 -F 'Failure' "$LOG" | grep -v -F 'supervisor[' | head -40 || true
sed -n '/\[ soak \] ==== report/,/\[ soak \] ==== end of report/p' "$LOG"
if ((rc == 0)); then log "passed"; else log "FAILED (exit $rc): see $LOG"; fi
exit "$rc"
