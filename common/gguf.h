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
};

// Checks the header, every metadata entry, every tensor info, and that the tensor data the
// infos describe lies within the file. Errors are one line, start with the path, and say
// what to do; the caller adds where in the config the path came from.
Result<GgufMetadata> readGgufMetadata(const std::filesystem::path& path);

}  // namespace qmesh
