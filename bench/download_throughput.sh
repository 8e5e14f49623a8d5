#!/usr/bin/env bash
# Download throughput of `qmesh-supervisor pull` (libcurl, sha256 while streaming, fsync,
# GGUF check, rename) against `curl -o` of the same file from the same local HTTP server
# (python3 -m http.server on loopback). Usage:
#   bench/download_throughput.sh [BUILD_DIR] [MiB]      (defaults: build, 512)
set -euo pipefail
BUILD=${1:-build}
MIB=${2:-512}
SUP="$BUILD/supervisor/qmesh-supervisor"
[[ -x "$SUP" ]] || { echo "no $SUP: build qmesh-supervisor first" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
python3 - "$WORK/model.gguf" "$MIB" <<'PY'
import struct, sys, os
path, mib = sys.argv[1], int(sys.argv[2])
n = mib << 20
s = lambda t: struct.pack('<Q', len(t)) + t
h = b'GGUF' + struct.pack('<IQQ', 3, 1, 1) + s(b'general.architecture') + struct.pack('<I', 8) + s(b'llama')
h += s(b'w') + struct.pack('<IQIQ', 1, n // 4, 0, 0)
h += b'\0' * (-len(h) % 32)
with open(path, 'wb') as f:
    f.write(h)
    chunk = os.urandom(1 << 20)
    for _ in range(mib): f.write(chunk)
PY
DIGEST=$(sha256sum "$WORK/model.gguf" | cut -d' ' -f1)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$WORK" && exec python3 -m http.server "$PORT" --bind 127.0.0.1 >/dev/null 2>&1) &
SERVER=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
cat > "$WORK/node.yaml" <<YAML
node:
  name: bench
  data_dir: $WORK/data
router:
  enabled: false
models:
  - name: m
    gguf: http://127.0.0.1:$PORT/model.gguf
    sha256: $DIGEST
YAML
rate() { python3 -c "print(f'{$1 / $2 / 1048576:.0f} MiB/s')"; }
BYTES=$(stat -c %s "$WORK/model.gguf")
for i in 1 2 3; do
  t0=$(date +%s.%N); curl -s -o "$WORK/curl.gguf" "http://127.0.0.1:$PORT/model.gguf"; t1=$(date +%s.%N)
  sha256sum "$WORK/curl.gguf" >/dev/null; t2=$(date +%s.%N)
  rm -f "$WORK/curl.gguf"
  echo "curl -o:                $(rate "$BYTES" "$(echo "$t1 - $t0" | bc)")"
  echo "curl -o, sha256sum:     $(rate "$BYTES" "$(echo "$t2 - $t0" | bc)")"
  rm -rf "$WORK/data"
  t0=$(date +%s.%N); "$SUP" pull --config "$WORK/node.yaml" >/dev/null 2>&1; t1=$(date +%s.%N)
  echo "qmesh-supervisor pull:  $(rate "$BYTES" "$(echo "$t1 - $t0" | bc)")"
done
