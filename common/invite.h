// Invite tokens: everything a new node needs to join a mesh, in one copy-pasteable string
// (`qmesh-supervisor invite` prints one, `start --join TOKEN` or mesh.join uses it).
//
//   token   = "qmesh1." + base64url-unpadded(payload)
//   payload = [version u8 = 1][mesh key, 32 bytes][seed count u8]
//             { [length u8]["host:port", length bytes] } x seed count
//             [checksum: first 4 bytes of BLAKE2b (crypto_generichash) of everything before]
//
// The checksum only catches typos and truncation; it is not a signature. The token carries
// the mesh key in the clear, so it is as secret as the key file: send it over a channel you
// trust, and rotate the key (`qmesh-supervisor keys`) if it leaks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/mesh_keys.h"
#include "common/result.h"

namespace qmesh {

inline constexpr std::string_view kInvitePrefix = "qmesh1.";
inline constexpr uint8_t kInviteVersion = 1;

struct Invite {
  MeshKeyBytes key{};
  std::vector<std::string> seeds;  // gossip addresses, HOST:PORT
};

// Fails when a seed is not HOST:PORT or longer than 255 bytes, or there are more than 255.
Result<std::string> encodeInvite(const Invite& invite);
// Whitespace anywhere in the token is ignored (terminals and mail wrap long lines). Errors
// say what is wrong: not a token, wrong version, mistyped or truncated.
Result<Invite> decodeInvite(std::string_view token);

}  // namespace qmesh
