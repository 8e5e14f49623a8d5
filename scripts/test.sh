#!/usr/bin/env bash
# The whole test suite, as CI and the README run it:
#   1. scripts/setup.sh --no-build (packages, llama-server, demo model)
#   2. the integration tests' npm dependencies (the official openai client)
#   3. an ASan+UBSan build in build-asan/ and the whole suite there (unit + integration
#      against the real llama-server)
#   4. every libFuzzer harness (fuzz/, built in build-fuzz/ with clang-16) for a few seconds
#      on its checked-in corpus: a crash fails the run (scripts/fuzz.sh runs them longer)
# The suite runs once, under the sanitizers: on 2 cores a second (plain) build of the whole
# tree would double CI time. `scripts/test.sh --also-plain` also builds build/ and runs it there.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
JOBS="$(nproc)"
# Objects compiled from the same sources in another clone or worktree are reused by ccache.
# Preprocessor mode only: with a shared base_dir, direct mode's manifests once matched a header
# of another worktree and served an object built from different sources.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$REPO_ROOT")}" CCACHE_NOHASHDIR=1 CCACHE_NODIRECT=1

log() { printf '[test] %s\n' "$*"; }
RESULTS=()
FAILED=0
# run NAME CMD...: runs one step, records pass/fail, never aborts the script.
run() {
  local name="$1"; shift
  log "== $name"
  local start=$SECONDS
  if "$@"; then RESULTS+=("$name: ok ($((SECONDS - start))s)")
  else RESULTS+=("$name: FAILED ($((SECONDS - start))s)"); FAILED=1; fi
}
summary() {
  log "== summary"
  for r in "${RESULTS[@]}"; do log "  $r"; done
  if ((FAILED)); then log "RESULT: FAILED"; exit 1; fi
  log "RESULT: all steps passed"
}

npm_deps() {
  # npm ci installs exactly the committed lock file; fall back to install if there is none.
  local dir="$REPO_ROOT/tests/integration/node" cmd=install
  [[ -f "$dir/package-lock.json" ]] && cmd=ci
  (cd "$dir" && npm "$cmd" --no-audit --no-fund --loglevel=error)
}

asan_build() {
  # Build type None: the sanitizer flags above (-O1 -g1) are the only optimisation flags.
  cmake -S . -B build-asan -DQMESH_SANITIZE=address -DQMESH_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=None >/dev/null &&
    cmake --build build-asan -j"$JOBS"
}

asan_tests() {
  # halt_on_error makes a UBSan finding fail the test instead of scrolling past in a log.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure
}

# Setup and the npm deps are prerequisites: without them every later step fails for a
# reason that is not a test failure.
PLAIN=0
[[ "${1:-}" == "--also-plain" ]] && PLAIN=1

run "setup" bash scripts/setup.sh $( ((PLAIN)) || echo --no-build)
run "npm deps" npm_deps
((FAILED)) && summary

if ((PLAIN)); then
  run "ctest (build)" ctest --test-dir build --output-on-failure -j2
fi
run "asan+ubsan build" asan_build
if [[ "${RESULTS[-1]}" == *": ok "* ]]; then
  run "ctest (build-asan)" asan_tests
fi
# Its own clang build of only the parsers (~1 min on 2 cores from cold) plus 10 s per
# harness, one per core: the whole step stays under 3 minutes. QMESH_FUZZ_SECONDS=0 skips it.
if [[ "${QMESH_FUZZ_SECONDS:-10}" != 0 ]]; then
  run "fuzz (${QMESH_FUZZ_SECONDS:-10}s per harness)" env FUZZ_PARALLEL="$JOBS" bash scripts/fuzz.sh "${QMESH_FUZZ_SECONDS:-10}"
fi
summary
