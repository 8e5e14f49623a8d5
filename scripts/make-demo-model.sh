#!/usr/bin/env bash
# Makes third_party_bins/models/demo.gguf offline: a tiny random-weight llama (gibberish, fast)
# that the real llama-server loads and streams from. Nothing is downloaded.
#
#   scripts/make-demo-model.sh        skip if demo.gguf matches its recorded sha256 and inputs
#   QMESH_CACHE=/path scripts/...     where the generator is compiled (default ~/.cache/qmesh)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${QMESH_CACHE:-$HOME/.cache/qmesh}"
BINS="$REPO_ROOT/third_party_bins/linux-x64"
MODELS="$REPO_ROOT/third_party_bins/models"
CONTEXT_LENGTH=4096   # written into the GGUF; llama-server caps each slot at this value

log() { printf '[make-demo-model] %s\n' "$*"; }

# The model is a pure function of the generator and this script (and the converter pin, which
# rarely moves): hash them so editing the generator regenerates the model.
SRC="$REPO_ROOT/scripts/tools/llama2c_random_checkpoint.cpp"
INPUTS="$(cat "$SRC" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
if [[ -f "$MODELS/demo.gguf.sha256" && "$(cat "$MODELS/demo.gguf.inputs" 2>/dev/null)" == "$INPUTS" ]] &&
   (cd "$MODELS" && sha256sum --check --status demo.gguf.sha256); then
  log "demo model is up to date ($MODELS/demo.gguf)"
  exit 0
fi

for f in llama-convert-llama2c-to-ggml ggml-vocab-llama-spm.gguf; do
  [[ -f "$BINS/$f" ]] || { log "error: $BINS/$f is missing; run scripts/build-llama-server.sh first"; exit 1; }
done

# Compile the generator into the cache (no Python needed); rebuild when its source changes.
GEN="$CACHE/tools/llama2c_random_checkpoint"
mkdir -p "$CACHE/tools" "$MODELS"
if [[ ! -x "$GEN" || "$SRC" -nt "$GEN" ]]; then
  log "compiling $(basename "$SRC")"
  g++ -std=c++20 -O2 -Wall -Wextra -o "$GEN" "$SRC"
fi

TMP="$(mktemp -d "$CACHE/demo-model.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
log "writing a seeded random llama2.c checkpoint"
"$GEN" write "$TMP/demo.bin" "$CONTEXT_LENGTH"

log "converting it to GGUF with the llama-spm vocab"
"$BINS/llama-convert-llama2c-to-ggml" \
  --copy-vocab-from-model "$BINS/ggml-vocab-llama-spm.gguf" \
  --llama2c-model "$TMP/demo.bin" --llama2c-output-model "$TMP/demo.gguf" >"$TMP/convert.log" 2>&1 \
  || { tail -20 "$TMP/convert.log"; exit 1; }
# The converter always writes context_length 128 (ignoring the checkpoint's seq_len).
"$GEN" set-context-length "$TMP/demo.gguf" "$CONTEXT_LENGTH"

# Install atomically so a half-written model is never seen by a running test.
mv "$TMP/demo.gguf" "$MODELS/demo.gguf"
(cd "$MODELS" && sha256sum demo.gguf >demo.gguf.sha256)
echo "$INPUTS" >"$MODELS/demo.gguf.inputs"
log "wrote $MODELS/demo.gguf ($(du -h "$MODELS/demo.gguf" | cut -f1), sha256 $(cut -d' ' -f1 "$MODELS/demo.gguf.sha256"))"
