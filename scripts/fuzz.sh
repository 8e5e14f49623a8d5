#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, in build-fuzz/ with clang-16) and runs each one for
# SECONDS (default 60) on a copy of its checked-in corpus, in fuzz/corpus/<harness>/.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]    e.g. scripts/fuzz.sh 600 route sse
#   scripts/fuzz.sh 0                          only build (to replay a crash by hand)
#
# Prints one line per harness: runs, execs/s, coverage (cov: edges) and features (ft:).
# A crash, leak, timeout or sanitizer finding leaves its input in build-fuzz/artifacts/ and
# makes the script exit 1 (reproduce: build-fuzz/fuzz/fuzz_<harness> <artifact>). New
# inputs the fuzzer finds stay in build-fuzz/corpus/; the checked-in seeds are not touched.
# Environment: FUZZ_JOBS (build parallelism, default nproc), FUZZ_PARALLEL (harnesses run at
# once, default 1), FUZZ_MAX_LEN (largest input tried, default 4096).
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

if ((SECONDS_EACH == 0)); then log "built build-fuzz/fuzz/ (0 seconds: nothing run)"; exit 0; fi

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
# fuzz_one HARNESS: runs it, writes its one-line verdict to logs/HARNESS.result ("ok ..." or
# "FAILED ...", then the finding's headline lines).
fuzz_one() {
  local h="$1" bin="$BUILD/fuzz/fuzz_$1" work="$BUILD/corpus/$1" logf="$BUILD/logs/$1.log"
  local res="$BUILD/logs/$1.result" rc=0
  if [[ ! -x "$bin" || ! -d "fuzz/corpus/$h" ]]; then echo "FAILED: no such harness" >"$res"; return; fi
  # A copy: what the fuzzer adds is for this machine, the checked-in seeds stay small.
  mkdir -p "$work"
  cp -n "fuzz/corpus/$h"/* "$work/" 2>/dev/null || true
  "$bin" "$work" -max_total_time="$SECONDS_EACH" -max_len="${FUZZ_MAX_LEN:-4096}" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/${h}-" \
    >"$logf" 2>&1 || rc=$?
  local runs speed last cov ft artifact
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf")"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logf")"
  last="$(grep -E '^#[0-9]+' "$logf" | tail -1)"
  cov="$(grep -oE 'cov: [0-9]+' <<<"$last" | tail -1)"
  ft="$(grep -oE 'ft: [0-9]+' <<<"$last" | tail -1)"
  if ((rc == 0)); then
    echo "ok  runs ${runs:-?}  ${speed:-?} exec/s  ${cov:-cov: ?}  ${ft:-ft: ?}" >"$res"
  else
    artifact="$(grep -oE 'Test unit written to .*' "$logf" | sed 's/Test unit written to //' | tail -1)"
    { echo "FAILED (exit $rc)  ${cov:-}  artifact: ${artifact:-none}  log: $logf"
      grep -E 'ERROR: |SUMMARY: |FUZZ_CHECK failed|runtime error|what\(\)' "$logf" | head -5
    } >"$res"
  fi
}

# FUZZ_PARALLEL harnesses at a time (scripts/test.sh uses one per core).
PARALLEL="${FUZZ_PARALLEL:-1}"
for h in "${HARNESSES[@]}"; do
  rm -f "$BUILD/logs/$h.result"
  while (($(jobs -rp | wc -l) >= PARALLEL)); do wait -n || true; done
  fuzz_one "$h" &
done
wait
FAILED=()
for h in "${HARNESSES[@]}"; do
  res="$BUILD/logs/$h.result"
  [[ -f "$res" ]] || echo "FAILED: did not report" >"$res"
  sed "1s/^/$h: /; 2,\$s/^/  /" "$res" | while IFS= read -r line; do log "$line"; done
  grep -q '^ok ' "$res" || FAILED+=("$h")
done
if ((${#FAILED[@]})); then
  log "FAILED: ${FAILED[*]}"
  exit 1
fi
log "all ${#HARNESSES[@]} harnesses ran ${SECONDS_EACH}s each without a finding"
