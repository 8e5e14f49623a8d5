#!/usr/bin/env bash
# The README's first command: set everything up (scripts/setup.sh), then run a node in the
# foreground on the given config (default: config/node.yaml, the built-in demo model).
# Once the node serves, prints the endpoint and a curl example. Ctrl-C stops the node.
#
#   scripts/start-node.sh [CONFIG]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG="${1:-$ROOT/config/node.yaml}"
SUP="$ROOT/build/supervisor/qmesh-supervisor"

bash "$ROOT/scripts/setup.sh"
"$SUP" check-config "$CONFIG"

"$SUP" start --config "$CONFIG" &
PID=$!
trap 'kill -TERM "$PID" 2>/dev/null; wait "$PID"; exit' INT TERM

# Wait (with a deadline) until every model is ready, then say how to use the node.
for _ in $(seq 1 600); do
  kill -0 "$PID" 2>/dev/null || { wait "$PID"; exit $?; }
  JSON="$("$SUP" status --config "$CONFIG" --json 2>/dev/null || true)"
  if [[ -n "$JSON" && "$JSON" != *'"state":"starting"'* && "$JSON" != *'"state":"loading"'* &&
        "$JSON" != *'"state":"restarting"'* ]]; then
    break
  fi
  sleep 0.2
done
"$SUP" status --config "$CONFIG" || true

# The JSON has sorted keys: "models":[...] comes before "node", and "router" after it.
MODELS="${JSON%%\"node\":*}"
ROUTER="$(printf '%s' "${JSON#*\"router\":}" | sed -n 's/.*"listen":"\([^"]*\)".*/\1/p')"
MODEL="$(printf '%s' "$MODELS" | sed -n 's/.*"name":"\([^"]*\)","pid":[0-9]*,"port":[0-9]*.*/\1/p')"
if [[ -n "$ROUTER" ]]; then
  ENDPOINT="http://$ROUTER/v1"
else  # no router configured: the model's own llama-server
  PORT="$(printf '%s' "$MODELS" | sed -n 's/.*"pid":[0-9]*,"port":\([0-9]*\).*/\1/p' | head -1)"
  ENDPOINT="http://127.0.0.1:$PORT/v1"
fi
cat <<MSG

qmesh node is up. OpenAI endpoint: $ENDPOINT
Stream a chat completion:
  curl -N $ENDPOINT/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model":"${MODEL:-demo}","stream":true,"messages":[{"role":"user","content":"Hello"}]}'
Status: $SUP status --config $CONFIG
Stop:   Ctrl-C here, or $SUP stop --config $CONFIG

MSG
wait "$PID"
