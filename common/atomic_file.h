// Replacing a small file so that a reader, or a crash mid-write, sees the old contents or
// the new ones and never half of either: a temporary file beside it (mode 0600, named with
// our pid so two processes cannot write through each other's), then rename over it.
#pragma once

#include <filesystem>
#include <string>

#include "common/result.h"

namespace qmesh {

enum class Durability {
  kSynced,     // fsync the file and its directory: after a power cut, the new contents or the old
  kUnsynced,   // no fsync: cheap enough for an event loop; after a power cut it may be empty or old
};

// Errors name the file: "cannot create <tmp>: ..." or "cannot write <path>: ...".
Status replaceFileAtomically(const std::filesystem::path& path, const std::string& data, Durability durability);

}  // namespace qmesh
