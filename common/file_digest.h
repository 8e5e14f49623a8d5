// The sha256 of a model file, hex: what makes two workers "the same model" for a stream that
// moves from one to the other mid-generation (issue 12). Hashing a 40 GB GGUF takes minutes,
// so a file is hashed once and remembered by path, size and modification time.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"

namespace qmesh {

// Reads the whole file (blocking: never call it on an event loop). 64 lowercase hex digits.
// `cancelled`, if given, is asked between reads of 1 MiB: true gives up with an error.
Result<std::string> sha256File(const std::filesystem::path& file, const std::function<bool()>& cancelled = {});

// Digests of files already hashed; a file whose size or mtime changed is hashed again.
// Thread-safe: the supervisor hashes on a worker thread and reads on its loop.
class FileDigestCache {
 public:
  // Hashes the file unless a digest of this very version is known.
  Result<std::string> digest(const std::filesystem::path& file, const std::function<bool()>& cancelled = {});
  std::optional<std::string> known(const std::filesystem::path& file) const;

 private:
  struct Entry {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type mtime{};
    std::string digest;
  };
  std::optional<Entry> stat(const std::filesystem::path& file) const;
  mutable std::mutex mu_;
  std::map<std::filesystem::path, Entry> entries_;
};

}  // namespace qmesh
