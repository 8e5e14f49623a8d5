// Files that hold secrets (the mesh key file, the node identity) must be readable by their
// owner only, as ssh insists for its keys: a key another local user could have read is a
// key to rotate, not one to start with.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/result.h"

namespace qmesh {

// Ok when `path` gives no permission to group or others, or does not exist (the reader then
// reports that). Otherwise "PATH: the WHAT is readable by other users (mode 0644): run
// `chmod 600 PATH`"; qmesh-supervisor exits 2 with it.
Status requireOwnerOnly(const std::filesystem::path& path, std::string_view what);

}  // namespace qmesh
