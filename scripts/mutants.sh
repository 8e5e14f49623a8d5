#!/usr/bin/env bash
# Mutation check of the behaviours qmesh lives by (issue 13): each mutant in
# scripts/mutants.txt breaks one production line; the tests named for it must then fail.
#
#   bash scripts/mutants.sh [NAME-REGEX]     # every mutant whose name matches (default: all)
#
# For each mutant it applies the sed expression to a scratch copy of the tree, rebuilds only
# the mutant's targets (ASan + UBSan, configured like CI), runs `ctest -R <tests>` and
# reports killed (a named test failed), SURVIVED (they all passed: a missing test),
# not-applied (the sed changed nothing: the line moved) or build-failed. The file is
# restored before the next mutant. It ends with a markdown table, and exits 1 unless every
# mutant was killed (2 if the named tests already fail without any mutant).
#
# Not part of .ci/run: it rebuilds once per mutant and some tests run real llama-servers.
#
# The scratch copy is build-mutants/src (git-ignored; QMESH_MUTANTS_DIR overrides the
# folder), with its build in src/build-asan: the same relative layout as every worktree's
# build-asan, so ccache (base_dir) serves every object the mutant did not touch.
# QMESH_MUTANTS_SKIP_BASELINE=1 skips the first run of the named tests on the unmutated tree;
# QMESH_MUTANTS_RECACHE=1 compiles what the baseline build needs afresh (see CCACHE_NODIRECT).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIST="$ROOT/scripts/mutants.txt"
WORK="${QMESH_MUTANTS_DIR:-$ROOT/build-mutants}"
SRC="$WORK/src"
BUILD="$SRC/build-asan"
LOGS="$WORK/logs"
FILTER="${1:-.}"
# Preprocessor mode only (as scripts/test.sh), with ccache's checks strict: with a shared
# base_dir, direct mode's manifests once served an object built from another tree's sources
# (a Bridge from another branch). QMESH_MUTANTS_RECACHE=1 also recompiles the baseline
# instead of trusting the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$ROOT")}" CCACHE_NOHASHDIR=1 CCACHE_NODIRECT=1
export CCACHE_SLOPPINESS=time_macros
# As scripts/test.sh: a UBSan finding fails the test instead of scrolling past in a log.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

log() { printf '[mutants] %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

# ---- the list -------------------------------------------------------------------------
# Blocks of `key: value` lines (name, file, sed, targets, tests), separated by blank lines;
# lines starting with '#' are comments.
NAMES=() FILES=() SEDS=() TARGETS=() TESTS=()
parse_list() {
  local name="" file="" sed="" targets="" tests="" line key value n=0
  flush() {
    if [[ -z "$name$file$sed$targets$tests" ]]; then return; fi
    [[ -n "$name" && -n "$file" && -n "$sed" && -n "$targets" && -n "$tests" ]] ||
      die "$LIST: the block ending at line $n needs all of name, file, sed, targets and tests"
    local seen
    for seen in "${NAMES[@]}"; do [[ "$seen" != "$name" ]] || die "$LIST: mutant '$name' is listed twice"; done
    if [[ "$name" =~ $FILTER ]]; then
      NAMES+=("$name") FILES+=("$file") SEDS+=("$sed") TARGETS+=("$targets") TESTS+=("$tests")
    else
      NAMES+=("$name") FILES+=("") SEDS+=("") TARGETS+=("") TESTS+=("")  # parsed, not selected
    fi
    name="" file="" sed="" targets="" tests=""
  }
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    [[ "$line" == \#* ]] && continue
    if [[ -z "${line//[[:space:]]/}" ]]; then flush; continue; fi
    [[ "$line" =~ ^(name|file|sed|targets|tests):[[:space:]]?(.*)$ ]] ||
      die "$LIST:$n: expected 'name|file|sed|targets|tests: value', got: $line"
    key="${BASH_REMATCH[1]}" value="${BASH_REMATCH[2]}"
    printf -v "$key" '%s' "$value"
  done <"$LIST"
  flush
}

# ---- the scratch tree -----------------------------------------------------------------
# Copies every tracked file of the worktree (committed or not) whose content differs, with a
# fresh mtime so make rebuilds it; unchanged files keep theirs, so their objects stay valid.
sync_tree() {
  mkdir -p "$SRC" "$LOGS"
  local f
  while IFS= read -r -d '' f; do
    [[ -f "$ROOT/$f" && ! -L "$ROOT/$f" ]] || continue
    if ! cmp -s "$ROOT/$f" "$SRC/$f"; then
      mkdir -p "$(dirname "$SRC/$f")"
      cp "$ROOT/$f" "$SRC/$f"
    fi
  done < <(git -C "$ROOT" ls-files -z)
  # Untracked but needed by the integration tests: the packaged llama-server, the demo
  # model and the openai npm client (symlinks in a worktree, folders in a clone).
  local extra
  for extra in third_party_bins/linux-x64 third_party_bins/models tests/integration/node/node_modules; do
    if [[ -e "$ROOT/$extra" && ! -e "$SRC/$extra" ]]; then
      mkdir -p "$(dirname "$SRC/$extra")"
      ln -s "$(readlink -f "$ROOT/$extra")" "$SRC/$extra"
    fi
  done
}

configure() {
  cmake -S "$SRC" -B "$BUILD" -DQMESH_SANITIZE=address -DQMESH_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=None >"$LOGS/configure.log" 2>&1 || die "configure failed: $LOGS/configure.log"
}

build() {  # build LOG TARGET...
  local out="$1"; shift
  nice -n 10 cmake --build "$BUILD" -j2 --target "$@" >"$out" 2>&1
}

# run_tests LOG REGEX: 0 all passed, 1 some failed, 3 no test matched.
run_tests() {
  local out="$1" regex="$2" rc=0
  nice -n 10 ctest --test-dir "$BUILD" -R "$regex" --output-on-failure >"$out" 2>&1 || rc=1
  if grep -q "No tests were found" "$out"; then return 3; fi
  return "$rc"
}

# ---- main -----------------------------------------------------------------------------
[[ -f "$LIST" ]] || die "no $LIST"
parse_list
SELECTED=()
for i in "${!NAMES[@]}"; do [[ -n "${FILES[$i]}" ]] && SELECTED+=("$i"); done
((${#SELECTED[@]})) || die "no mutant name matches '$FILTER'"
log "${#SELECTED[@]} mutant(s); scratch tree $SRC"
sync_tree
configure

all_targets=""
for i in "${SELECTED[@]}"; do all_targets+=" ${TARGETS[$i]}"; done
mapfile -t union < <(tr ' ' '\n' <<<"$all_targets" | grep . | sort -u)
log "baseline: building ${union[*]}"
if [[ "${QMESH_MUTANTS_RECACHE:-0}" == 1 ]]; then
  CCACHE_RECACHE=1 build "$LOGS/baseline.build.log" "${union[@]}"
else
  build "$LOGS/baseline.build.log" "${union[@]}"
fi || die "the unmutated tree does not build: $LOGS/baseline.build.log"
if [[ "${QMESH_MUTANTS_SKIP_BASELINE:-0}" != 1 ]]; then
  log "baseline: the named tests without any mutant"
  # One ctest run per regex: CMake's regex engine allows only 10 groups, so no union.
  : >"$LOGS/baseline.test.log"
  mapfile -t regexes < <(for i in "${SELECTED[@]}"; do echo "${TESTS[$i]}"; done | sort -u)
  for regex in "${regexes[@]}"; do
    run_tests "$LOGS/baseline.one.log" "$regex" || {
      cat "$LOGS/baseline.one.log" >>"$LOGS/baseline.test.log"
      die "'$regex' fails (or matches nothing) without any mutant: $LOGS/baseline.test.log"
    }
    cat "$LOGS/baseline.one.log" >>"$LOGS/baseline.test.log"
  done
fi

ROWS=() NOT_KILLED=0
for i in "${SELECTED[@]}"; do
  name="${NAMES[$i]}" file="${FILES[$i]}" start=$SECONDS
  orig="$WORK/original"
  result=""
  if [[ ! -f "$SRC/$file" ]]; then
    result="not-applied (no such file)"
  else
    cp "$SRC/$file" "$orig"
    if ! sed -e "${SEDS[$i]}" "$orig" >"$SRC/$file"; then
      result="not-applied (sed error)"
    elif cmp -s "$orig" "$SRC/$file"; then
      result="not-applied"
    elif read -ra targets <<<"${TARGETS[$i]}" && ! build "$LOGS/$name.build.log" "${targets[@]}"; then
      result="build-failed"
    else
      set +e
      run_tests "$LOGS/$name.test.log" "${TESTS[$i]}"
      rc=$?
      set -e
      case "$rc" in
        0) result="SURVIVED" ;;
        1) result="killed" ;;
        *) result="no test matches" ;;
      esac
    fi
    # A fresh mtime, so the next build compiles the original again (ccache makes it cheap).
    cp "$orig" "$SRC/$file"
  fi
  [[ "$result" == killed ]] || NOT_KILLED=$((NOT_KILLED + 1))
  log "$name: $result ($((SECONDS - start)) s)"
  ROWS+=("| \`$name\` | \`$file\` | $result | \`${TESTS[$i]//|/\\|}\` | $((SECONDS - start)) |")
done

echo
echo "| mutant | file | result | tests | s |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
echo
echo "$(( ${#SELECTED[@]} - NOT_KILLED )) of ${#SELECTED[@]} killed; logs in $LOGS"
((NOT_KILLED == 0))
