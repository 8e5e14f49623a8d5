#!/usr/bin/env bash
# Measures how long a node is without its model after llama-server dies: kill -9 the child,
# then time until the supervisor reports a new pid in state "ready" (that is, its /health
# answered 200). Prints each run and the median.
#
#   bench/restart_latency.sh [RUNS] [BUILD_DIR]     (default 9 runs, build/)
set -euo pipefail
RUNS="${1:-9}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${2:-$ROOT/build}"
SUP="$BUILD/supervisor/qmesh-supervisor"
TMP="$(mktemp -d)"
PORT=$((20000 + RANDOM % 20000))
trap '[[ -n "${SPID:-}" ]] && kill "$SPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

cat >"$TMP/node.yaml" <<YAML
node: {name: bench, data_dir: $TMP/data, control: "127.0.0.1:$PORT", log_level: info}
# Default health and backoff settings, except that the crash-loop guard (more than 5 restarts
# a minute = failed) is raised so that the bench's own kills do not trip it.
supervisor: {restart: {max_restarts: 1000}}
models:
  - {name: demo, gguf: "$ROOT/third_party_bins/models/demo.gguf", ctx_size: 1024, parallel: 2}
router: {enabled: false}
YAML
"$SUP" start --config "$TMP/node.yaml" >"$TMP/supervisor.log" 2>&1 &
SPID=$!

status() { curl -sf "http://127.0.0.1:$PORT/status" || true; }
# The status JSON has sorted keys: ..."name":"demo","pid":N,...,"state":"ready",...
ready_pid() { status | sed -n 's/.*"name":"demo","pid":\([0-9]*\),[^}]*"state":"ready".*/\1/p'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

wait_ready_other_than() {  # pid to differ from
  local deadline=$(( $(now_ms) + 60000 )) pid
  while (( $(now_ms) < deadline )); do
    pid=$(ready_pid)
    if [[ -n "$pid" && "$pid" != "$1" ]]; then echo "$pid"; return 0; fi
    sleep 0.005
  done
  echo "timed out waiting for ready" >&2; return 1
}

pid=$(wait_ready_other_than none)
times=()
for i in $(seq 1 "$RUNS"); do
  sleep 1  # let the previous instance settle so each run starts from a steady ready state
  t0=$(now_ms)
  kill -9 "$pid"
  pid=$(wait_ready_other_than "$pid")
  t=$(( $(now_ms) - t0 ))
  times+=("$t")
  echo "run $i: kill -9 -> ready in ${t} ms"
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
# The supervisor's own view of each restart: backoff chosen, and spawn -> first 200 on /health.
grep -oE 'restarting in [0-9]+ ms|ready \(pid [0-9]+, port [0-9]+, [0-9.]+ s after spawn\)' "$TMP/supervisor.log" \
  | sed 's/^/  supervisor: /' | tail -n $(( 2 * RUNS ))
echo "median kill -9 -> ready: ${sorted[$(( RUNS / 2 ))]} ms over $RUNS runs (min ${sorted[0]}, max ${sorted[$(( RUNS - 1 ))]})"
