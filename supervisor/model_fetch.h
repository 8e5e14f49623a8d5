// Downloads one model file (models[].gguf given as a URL) and proves it is the one the
// operator pinned before anything may load it.
//
//   <dest>.partial  <- bytes as they arrive (sha256 updated on the fly, libsodium)
//        |  transfer cut or stalled: the partial stays; the next fetch resumes it with
//        |  Range (curl's resume offset) and hashes the kept prefix first
//        v  complete
//   digest == pinned sha256 ?  no: partial deleted (DigestMismatch)
//   valid GGUF (common/gguf.h)? no: partial deleted (NotGguf)
//        v
//   fsync, rename(<dest>.partial, <dest>): `dest` exists only once it is proven
//
// Blocking (libcurl's easy interface): it runs from the `pull` command and before `start`
// spawns anything, never on an event-loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "supervisor/download_progress.h"

namespace qmesh {

enum class FetchFailure {
  None,
  HttpStatus,      // the server answered with an error (404, 403, 500, ...), or no such file://
  Connection,      // DNS, refused, TLS, or the transfer was cut: the partial is kept to resume
  Stalled,         // no byte for FetchOptions::stall_timeout: the partial is kept to resume
  DigestMismatch,  // complete, but not the pinned sha256: the partial is deleted
  NotGguf,         // the pinned digest matched, yet the file is no GGUF: deleted
  NoSpace,         // the file does not fit on the disk of <dest>
  Io,              // the partial file cannot be created, written or renamed
};
const char* toString(FetchFailure f);

struct FetchResult {
  FetchFailure failure = FetchFailure::None;
  std::string message;        // one line: what failed, the URL, what to do
  uint64_t bytes = 0;         // size of the finished file
  uint64_t resumed_from = 0;  // bytes kept from an earlier, interrupted fetch
  bool ok() const { return failure == FetchFailure::None; }
};

struct FetchOptions {
  // A server that sends nothing (below 1 byte/s) for this long is given up on. Long enough
  // for a slow CDN's first byte, short enough that `start` does not hang on a dead mirror.
  std::chrono::seconds stall_timeout{30};
  std::chrono::seconds connect_timeout{30};
  // Called as bytes arrive (at most every 100 ms) and once at the end.
  std::function<void(const DownloadProgress&)> on_progress;
  // Free bytes on the file system holding `dir`; tests replace it. Default: statvfs.
  std::function<uint64_t(const std::filesystem::path& dir)> free_bytes;
};

// `sha256`: 64 lowercase hex digits. `dest`'s folder is created if needed.
FetchResult fetchModel(const std::string& url, const std::string& sha256,
                       const std::filesystem::path& dest, const FetchOptions& options = {});

std::filesystem::path partialPathFor(const std::filesystem::path& dest);

}  // namespace qmesh
