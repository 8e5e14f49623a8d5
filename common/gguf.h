// GGUF header validation and metadata, read before llama-server is asked to load a model.
//
// llama-server reports a bad model only in its own log, after the supervisor has already
// started it and is waiting on /health; checking the file first turns a wrong path, a
// half-finished download or an HTML error page saved as "model.gguf" into one startup
// error that says what is wrong and what to do.
//
// The file is streamed through a small buffer (models are many GB); every length read from
// it is checked against the bytes that remain, so a corrupt file cannot make the reader
// allocate or loop without bound.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/result.h"

namespace qmesh {

struct GgufMetadata {
  uint32_t version = 0;
  uint64_t tensor_count = 0;
  uint64_t kv_count = 0;
  // Both are made safe for log lines and JSON: control characters and bytes that are not
  // well-formed UTF-8 are replaced by '?'.
  std::string architecture;     // general.architecture ("" if absent)
  std::string name;             // general.name ("" if absent)
  uint64_t context_length = 0;  // <architecture>.context_length (0 if absent)
  uint64_t file_size = 0;
  // For the memory estimate (common/model_memory.h); each 0 if absent or not a u32/u64
  // (head_count_kv is an array in a few models: then the estimate falls back to head_count).
  uint64_t tensor_bytes = 0;    // the tensor data section up to its furthest tensor's end
  uint64_t block_count = 0;     // <architecture>.block_count (layers)
  uint64_t embedding_length = 0;
  uint64_t head_count = 0;      // <architecture>.attention.head_count
  uint64_t head_count_kv = 0;   // ...head_count_kv (grouped-query attention)
  uint64_t key_length = 0;      // ...key_length (default embedding_length / head_count)
  uint64_t value_length = 0;
};

// Checks the header, every metadata entry, every tensor info, and that the tensor data the
// infos describe lies within the file. Errors are one line, start with the path, and say
// what to do; the caller adds where in the config the path came from.
Result<GgufMetadata> readGgufMetadata(const std::filesystem::path& path);

}  // namespace qmesh
