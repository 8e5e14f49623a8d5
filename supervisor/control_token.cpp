#include "supervisor/control_token.h"

#include <sodium.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <strings.h>

#include "common/atomic_file.h"
#include "common/sodium_init.h"

namespace qmesh {

namespace fs = std::filesystem;

namespace {
constexpr std::size_t kTokenBytes = 32;
constexpr std::string_view kBearer = "bearer ";
}  // namespace

std::string generateControlToken() {
  ensureSodium();
  std::array<unsigned char, kTokenBytes> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::string hex(raw.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();
  sodium_memzero(raw.data(), raw.size());
  return hex;
}

fs::path controlTokenPath(const fs::path& dataDir) { return dataDir / "control.token"; }

Status writeControlToken(const fs::path& dataDir, const std::string& token) {
  return replaceFileAtomically(controlTokenPath(dataDir), token + "\n", Durability::kUnsynced);
}

Result<std::string> readControlToken(const fs::path& dataDir) {
  const fs::path path = controlTokenPath(dataDir);
  std::ifstream in(path);
  if (!in)
    return makeError("cannot read the control token " + path.string() + " (" + std::strerror(errno) +
                     "): run this command as the user that started the node (or root); the "
                     "supervisor writes the file when it starts");
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return makeError(path.string() + " is empty: restart the node to write a new token");
  return token;
}

bool authorizationMatches(std::string_view header, const std::string& expected) {
  if (expected.empty() || header.size() != kBearer.size() + expected.size()) return false;
  if (strncasecmp(header.data(), kBearer.data(), kBearer.size()) != 0) return false;
  // The length of a token is no secret (always 64); its bytes are.
  return sodium_memcmp(header.data() + kBearer.size(), expected.data(), expected.size()) == 0;
}

}  // namespace qmesh
