#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, in build-fuzz/ with clang-16) and runs each one for
# SECONDS (default 60) on a copy of its checked-in corpus, in fuzz/corpus/<harness>/.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]    e.g. scripts/fuzz.sh 600 route sse
#
# Prints one line per harness: runs, execs/s, coverage (cov: edges) and features (ft:).
# A crash, leak, timeout or sanitizer finding leaves its input in build-fuzz/artifacts/ and
# makes the script exit 1 (reproduce: build-fuzz/fuzz/fuzz_<harness> <artifact>). New
# inputs the fuzzer finds stay in build-fuzz/corpus/; the checked-in seeds are not touched.
# Environment: FUZZ_JOBS (build parallelism, default nproc), FUZZ_MAX_LEN (default 4096).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
SECONDS_EACH="${1:-60}"
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS] [HARNESS...]" >&2; exit 2; }
shift || true
BUILD="$REPO_ROOT/build-fuzz"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$REPO_ROOT")}" CCACHE_NOHASHDIR=1

log() { printf '[fuzz] %s\n' "$*"; }

command -v clang++-16 >/dev/null || { log "error: clang++-16 not found; run scripts/setup.sh"; exit 1; }
CC=clang-16 CXX=clang++-16 cmake -S . -B "$BUILD" -DQMESH_FUZZ=ON -DQMESH_BUILD_TESTS=OFF \
  -DQMESH_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=None >/dev/null
cmake --build "$BUILD" -j"${FUZZ_JOBS:-$(nproc)}" --target qmesh_fuzzers

HARNESSES=("$@")
if ((${#HARNESSES[@]} == 0)); then
  for d in fuzz/corpus/*/; do HARNESSES+=("$(basename "$d")"); done
fi

# Symbolized stacks in crash reports; halt on the first UBSan finding too.
for s in /usr/lib/llvm-16/bin/llvm-symbolizer "$(command -v llvm-symbolizer || true)"; do
  [[ -x "$s" ]] && { export ASAN_SYMBOLIZER_PATH="$s"; break; }
done
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

mkdir -p "$BUILD/artifacts" "$BUILD/logs"
FAILED=()
for h in "${HARNESSES[@]}"; do
  bin="$BUILD/fuzz/fuzz_$h"
  [[ -x "$bin" && -d "fuzz/corpus/$h" ]] || { log "$h: no such harness"; FAILED+=("$h"); continue; }
  # A copy: what the fuzzer adds is for this machine, the checked-in seeds stay small.
  work="$BUILD/corpus/$h"
  mkdir -p "$work"
  cp -n "fuzz/corpus/$h"/* "$work/" 2>/dev/null || true
  logf="$BUILD/logs/$h.log"
  rc=0
  "$bin" "$work" -max_total_time="$SECONDS_EACH" -max_len="${FUZZ_MAX_LEN:-4096}" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/${h}-" \
    >"$logf" 2>&1 || rc=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf")"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logf")"
  last="$(grep -E '^#[0-9]+' "$logf" | tail -1)"
  cov="$(grep -oE 'cov: [0-9]+' <<<"$last" | tail -1)"
  ft="$(grep -oE 'ft: [0-9]+' <<<"$last" | tail -1)"
  if ((rc == 0)); then
    log "$h: ok  runs ${runs:-?}  ${speed:-?} exec/s  ${cov:-cov: ?}  ${ft:-ft: ?}"
  else
    artifact="$(grep -oE 'Test unit written to .*' "$logf" | sed 's/Test unit written to //' | tail -1)"
    log "$h: FAILED (exit $rc)  ${cov:-}  artifact: ${artifact:-none}  log: $logf"
    grep -E 'ERROR: |SUMMARY: |FUZZ_CHECK failed|runtime error' "$logf" | head -5 | sed 's/^/[fuzz]   /'
    FAILED+=("$h")
  fi
done
if ((${#FAILED[@]})); then
  log "FAILED: ${FAILED[*]}"
  exit 1
fi
log "all ${#HARNESSES[@]} harnesses ran ${SECONDS_EACH}s each without a finding"
