#!/usr/bin/env bash
# Builds the packaged llama-server (and the llama2.c converter used for the demo model)
# from the llama.cpp source that npm's node-llama-cpp ships as llama/gitRelease.bundle.
# Nothing is fetched from GitHub or Hugging Face. Built once per pin and reused.
#
#   scripts/build-llama-server.sh          build if the pin changed or the binary is missing
#   QMESH_CACHE=/path scripts/...          where sources and build trees are cached
#                                          (default ~/.cache/qmesh)
set -euo pipefail

NODE_LLAMA_CPP_VERSION="3.22.1"   # the pin: change it and the next run rebuilds
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${QMESH_CACHE:-$HOME/.cache/qmesh}"
WORK="$CACHE/llama-$NODE_LLAMA_CPP_VERSION"
OUT="$REPO_ROOT/third_party_bins/linux-x64"
MANIFEST="$OUT/manifest.json"
CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON
  -DGGML_STATIC=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_EXAMPLES=ON
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON)

log() { printf '[build-llama-server] %s\n' "$*"; }

up_to_date() {
  [[ -x "$OUT/llama-server" && -x "$OUT/llama-convert-llama2c-to-ggml" && -f "$OUT/ggml-vocab-llama-spm.gguf" \
     && -f "$MANIFEST" ]] || return 1
  grep -q "\"node_llama_cpp_version\": \"$NODE_LLAMA_CPP_VERSION\"" "$MANIFEST" || return 1
  local want; want=$(sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p' "$MANIFEST")
  [[ "$(sha256sum "$OUT/llama-server" | cut -d' ' -f1)" == "$want" ]]
}

if up_to_date; then
  log "llama-server for node-llama-cpp@$NODE_LLAMA_CPP_VERSION is up to date ($OUT/llama-server)"
  exit 0
fi

mkdir -p "$WORK" "$OUT"
if [[ ! -d "$WORK/src/.git" ]]; then
  log "fetching node-llama-cpp@$NODE_LLAMA_CPP_VERSION from the npm registry"
  rm -rf "$WORK/pkg" "$WORK/src" "$WORK/src.tmp" && mkdir -p "$WORK/pkg"   # src.tmp: an interrupted clone
  (cd "$WORK/pkg" && npm pack --silent "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" >/dev/null)
  tar -xzf "$WORK/pkg/node-llama-cpp-$NODE_LLAMA_CPP_VERSION.tgz" -C "$WORK/pkg" \
    package/llama/gitRelease.bundle package/llama/llama.cpp.info.json
  log "cloning the llama.cpp source from the package's git bundle"
  git clone -q "$WORK/pkg/package/llama/gitRelease.bundle" "$WORK/src.tmp" 2>/dev/null
  mv "$WORK/src.tmp" "$WORK/src"
fi
COMMIT=$(git -C "$WORK/src" rev-parse HEAD)
TAG=$(sed -n 's/.*"tag": "\([^"]*\)".*/\1/p' "$WORK/pkg/package/llama/llama.cpp.info.json" 2>/dev/null || true)

log "configuring llama.cpp $COMMIT (tag ${TAG:-unknown}) for the CPU, static"
cmake -S "$WORK/src" -B "$WORK/build" "${CMAKE_FLAGS[@]}" >"$WORK/configure.log" 2>&1 \
  || { tail -30 "$WORK/configure.log"; exit 1; }

log "building llama-server and llama-convert-llama2c-to-ggml (about 6 minutes on 2 cores)"
# Progress: cmake prints "[ NN%]" lines; show one line per 10% so CI logs stay readable.
# Under pipefail a failed build ends the pipeline non-zero; `if !` keeps set -e from exiting
# before the log tail is shown.
if ! cmake --build "$WORK/build" -j "$(nproc)" --target llama-server llama-convert-llama2c-to-ggml 2>&1 \
  | tee "$WORK/build.log" \
  | awk '/^\[ *[0-9]+%\]/ { p=substr($0,2,index($0,"%")-2)+0; if (p>=next_p) { printf "[build-llama-server] %3d%%\n", p; fflush(); next_p=p-p%10+10 } }
         /error:/ { print; fflush() }'; then
  tail -30 "$WORK/build.log"; exit 1
fi

install -m 0755 "$WORK/build/bin/llama-server" "$OUT/llama-server"
install -m 0755 "$WORK/build/bin/llama-convert-llama2c-to-ggml" "$OUT/llama-convert-llama2c-to-ggml"
install -m 0644 "$WORK/src/models/ggml-vocab-llama-spm.gguf" "$OUT/ggml-vocab-llama-spm.gguf"
if ldd "$OUT/llama-server" 2>/dev/null | grep -Eq 'libllama|libggml'; then
  log "error: llama-server links llama/ggml shared libraries; expected a static build"; exit 1
fi
SHA=$(sha256sum "$OUT/llama-server" | cut -d' ' -f1)
cat >"$MANIFEST" <<JSON
{
  "node_llama_cpp_version": "$NODE_LLAMA_CPP_VERSION",
  "llama_cpp_tag": "${TAG:-unknown}",
  "llama_cpp_commit": "$COMMIT",
  "build_flags": "${CMAKE_FLAGS[*]}",
  "platform": "linux-x64",
  "binary": "llama-server",
  "sha256": "$SHA"
}
JSON
log "installed $OUT/llama-server (sha256 $SHA)"
