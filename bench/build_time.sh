#!/bin/bash
# Cold build time of one commit of this repository: a `git archive` of it in a fresh folder,
# configured as scripts/test.sh (asan) or scripts/setup.sh (plain) configure it, ccache off,
# every compile and link timed through a compiler/linker launcher.
#   bash bench/build_time.sh <commit> <asan|plain> [work dir, default /tmp/qmesh-build-time]
# Prints the wall time and the CPU seconds of all compiler and linker runs; the per-run log
# (user s, sys s, wall s, max RSS KB, output) is <work>/tu-<commit>-<kind>.log, summed per
# CMake target by bench/build_time_sum.py. Run it on an otherwise idle machine.
set -euo pipefail
COMMIT=$1 KIND=$2 WORK=${3:-/tmp/qmesh-build-time}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$WORK/src-$COMMIT BUILD=$WORK/build-$COMMIT-$KIND LOG=$WORK/tu-$COMMIT-$KIND.log
mkdir -p "$WORK"
cat > "$WORK/tu-time.sh" <<'SH'
#!/bin/sh
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
exec /usr/bin/time -a -o "$TU_LOG" -f "%U %S %e %M $out" "$@"
SH
chmod +x "$WORK/tu-time.sh"
rm -rf "$SRC" "$BUILD" "$LOG"
mkdir -p "$SRC" && git -C "$REPO" archive "$COMMIT" | tar -x -C "$SRC"
case $KIND in
  asan) FLAGS=(-DQMESH_SANITIZE=address -DQMESH_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=None) ;;
  plain) FLAGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  *) echo "kind: asan or plain" >&2; exit 2 ;;
esac
cmake -S "$SRC" -B "$BUILD" "${FLAGS[@]}" -DCMAKE_CXX_COMPILER_LAUNCHER="$WORK/tu-time.sh" \
  -DCMAKE_CXX_LINKER_LAUNCHER="$WORK/tu-time.sh" > "$WORK/configure-$COMMIT-$KIND.log"
echo "$COMMIT $KIND: start $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
T0=$(date +%s.%N)
CCACHE_DISABLE=1 TU_LOG=$LOG cmake --build "$BUILD" -j2 > "$WORK/build-$COMMIT-$KIND.log" 2>&1
T1=$(date +%s.%N)
echo "$COMMIT $KIND: wall $(python3 -c "print(round($T1 - $T0))") s, CPU $(awk '{t += $1 + $2} END {printf "%.0f", t}' "$LOG") s" \
     "in $(wc -l < "$LOG") compiler/linker runs; load after $(cut -d' ' -f1-3 /proc/loadavg)"
