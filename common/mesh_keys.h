// The mesh key file: the symmetric keys a node seals and opens mesh traffic with.
//
// Format (text, so an operator can read, copy and diff it):
//   - one key per line: 32 bytes in standard base64 (44 characters, `=`-padded);
//   - the first key is the primary: the node seals with it; every listed key opens;
//   - lines whose first non-blank character is '#' and blank lines are ignored;
//   - "# invite-applied <16 hex>" lines record invite keys already applied (see
//     mesh_setup.h): so a token left in the config or on a command line cannot bring back a
//     key that a rotation removed.
// The file is a secret: it is written mode 0600, atomically (temp file + rename), so a
// reader (the router on SIGHUP) never sees half a file.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace qmesh {

// Same layout as membership::MeshKey (crypto_kdf_KEYBYTES); the router converts trivially.
using MeshKeyBytes = std::array<uint8_t, 32>;

MeshKeyBytes generateMeshKey();
std::string encodeMeshKey(const MeshKeyBytes& key);  // 44 characters, standard base64
// Surrounding whitespace is ignored; the error says what is wrong without echoing the text
// (it may be a mistyped secret).
Result<MeshKeyBytes> decodeMeshKey(std::string_view text);
// First 8 hex characters of the key's BLAKE2b hash: safe to print and log, enough to tell
// keys apart by eye.
std::string meshKeyFingerprint(const MeshKeyBytes& key);
// 16 hex characters of the same hash: the invite-applied record (no accidental collisions).
std::string meshKeyLongFingerprint(const MeshKeyBytes& key);

struct MeshKeyFile {
  std::vector<MeshKeyBytes> keys;            // primary first; never empty after a read
  std::vector<std::string> applied_invites;  // meshKeyLongFingerprint of invite keys applied

  MeshKeyFile() = default;
  MeshKeyFile(const MeshKeyFile&) = default;
  MeshKeyFile(MeshKeyFile&&) = default;
  MeshKeyFile& operator=(const MeshKeyFile&) = default;
  MeshKeyFile& operator=(MeshKeyFile&&) = default;
  ~MeshKeyFile();  // zeroes the keys (sodium_memzero)
};

// Errors are "path:line: what is wrong: what to do". A file without any key is an error, and
// so is one readable by group or others (common/private_file.h: names the chmod fix).
Result<MeshKeyFile> readMeshKeyFile(const std::filesystem::path& path);
// Refuses an empty key list (a node must always be able to seal). Creates the parent
// directory (mode 0700) when missing.
Status writeMeshKeyFile(const std::filesystem::path& path, const MeshKeyFile& file);

Result<std::vector<MeshKeyBytes>> readMeshKeys(const std::filesystem::path& path);
// Replaces the keys and keeps the file's invite-applied records.
Status writeMeshKeys(const std::filesystem::path& path, const std::vector<MeshKeyBytes>& keys);

}  // namespace qmesh
