// The edits `qmesh-supervisor keys` makes to a mesh key file, without I/O. Rotation, as in
// Serf: `install` the new key on every node, `use` it on every node, `remove` the old one.
#pragma once

#include <string>

#include "common/mesh_keys.h"
#include "common/result.h"

namespace qmesh {

// What the operator typed: a base64 key, or (for a key already in the file) the fingerprint
// `keys list` shows, so an old key can be used or removed without having it at hand.
Result<MeshKeyBytes> resolveKeyArgument(const MeshKeyFile& file, const std::string& text);

// Each returns whether the file changed (false: already so).
bool installKey(MeshKeyFile& file, const MeshKeyBytes& key);  // appended: opens, does not seal
Result<bool> useKey(MeshKeyFile& file, const MeshKeyBytes& key);     // must be installed
Result<bool> removeKey(MeshKeyFile& file, const MeshKeyBytes& key);  // never the primary

// `keys list`: one line per key, fingerprint and role, primary first. Never the keys.
std::string describeKeys(const MeshKeyFile& file);

}  // namespace qmesh
