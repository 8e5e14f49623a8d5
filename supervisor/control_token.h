// The control API's token for requests that change something (POST /shutdown, restarts, key
// reloads). GETs stay open on loopback (the router polls /status without one); a token keeps
// any other local user, and any web page a browser on this machine opens, from stopping the
// node. The supervisor makes a new random token at each start and writes it to
// <node.data_dir>/control.token (mode 0600), so only the user that runs the node (and root)
// can read it; the CLI reads it there and sends `Authorization: Bearer TOKEN`.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace qmesh {

// 32 random bytes (libsodium), as 64 lower-case hex characters.
std::string generateControlToken();

std::filesystem::path controlTokenPath(const std::filesystem::path& dataDir);
// Written atomically, mode 0600.
Status writeControlToken(const std::filesystem::path& dataDir, const std::string& token);
// The error names the file and what to do (run as the node's user, or start the node).
Result<std::string> readControlToken(const std::filesystem::path& dataDir);

// Whether an Authorization header value carries `expected` ("Bearer TOKEN", the scheme
// case-insensitive). The token is compared in constant time (sodium_memcmp).
bool authorizationMatches(std::string_view header, const std::string& expected);

}  // namespace qmesh
