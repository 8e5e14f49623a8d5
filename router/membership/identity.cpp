#include "router/membership/identity.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/private_file.h"
#include "common/sodium_init.h"

namespace qmesh::membership {
namespace {

static_assert(NodeId::kSize == crypto_sign_PUBLICKEYBYTES);
static_assert(Identity::kSecretBytes == crypto_sign_SECRETKEYBYTES);
static_assert(sizeof(Signature) == crypto_sign_BYTES);

std::string toHex(std::span<const uint8_t> bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

}  // namespace

Identity Identity::generate() {
  ensureSodium();
  std::array<uint8_t, crypto_sign_SEEDBYTES> seed;
  randombytes_buf(seed.data(), seed.size());
  Identity id = fromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return id;
}

Identity Identity::fromSeed(std::span<const uint8_t, 32> seed) {
  ensureSodium();
  Identity id;
  crypto_sign_seed_keypair(id.id_.bytes.data(), id.secret_.data(), seed.data());
  return id;
}

Identity::~Identity() { sodium_memzero(secret_.data(), secret_.size()); }

Signature Identity::sign(std::span<const uint8_t> message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

bool verifySignature(const NodeId& signer, std::span<const uint8_t> message, const Signature& signature) {
  ensureSodium();
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), signer.bytes.data()) == 0;
}

Result<Identity> loadOrCreateIdentity(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (!path.parent_path().empty()) fs::create_directories(path.parent_path(), ec);
    if (ec) return makeError(path.string() + ": cannot create the folder for the node identity: " + ec.message());
    std::array<uint8_t, crypto_sign_SEEDBYTES> seed;
    ensureSodium();
    randombytes_buf(seed.data(), seed.size());
    std::string hex = toHex(seed);
    const mode_t old = ::umask(077);
    {
      std::ofstream out(path, std::ios::trunc);
      out << hex << "\n";
      out.close();
      sodium_memzero(hex.data(), hex.size());
      ::umask(old);
      if (!out) return makeError(path.string() + ": cannot write the node identity (check the data dir's permissions)");
    }
    ::chmod(path.c_str(), 0600);
    Identity id = Identity::fromSeed(seed);
    sodium_memzero(seed.data(), seed.size());
    return id;
  }
  if (auto s = requireOwnerOnly(path, "node identity file"); !s) return s.error();
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line))
    return makeError(path.string() + ": cannot read the node identity; fix its permissions, or delete it to "
                     "give this node a new id");
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  std::array<uint8_t, crypto_sign_SEEDBYTES> seed;
  std::size_t len = 0;
  if (line.size() != seed.size() * 2 ||
      sodium_hex2bin(seed.data(), seed.size(), line.data(), line.size(), nullptr, &len, nullptr) != 0 ||
      len != seed.size())
    return makeError(path.string() + ": not a qmesh node identity (expected 64 hex digits); delete it to give "
                     "this node a new id");
  sodium_memzero(line.data(), line.size());
  Identity id = Identity::fromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return id;
}

}  // namespace qmesh::membership
