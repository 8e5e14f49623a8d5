#include "router/membership/keyring.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>

namespace qmesh::membership {
namespace {

// crypto_kdf contexts are exactly 8 bytes; versioned so a future scheme gets fresh keys.
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "qmesh-v1";

void ensureSodium() {
  if (sodium_init() < 0) std::abort();  // no usable randomness: nothing safe to do
}

static_assert(sizeof(MeshKey) == crypto_kdf_KEYBYTES);
static_assert(sizeof(Subkey) == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

Keyring::Entry entryFor(const MeshKey& key) {
  return Keyring::Entry{key, deriveSubkey(key, KeyPurpose::kGossip),
                        deriveSubkey(key, KeyPurpose::kPushPull)};
}

}  // namespace

Subkey deriveSubkey(const MeshKey& key, KeyPurpose purpose) {
  ensureSodium();
  Subkey out;
  crypto_kdf_derive_from_key(out.data(), out.size(), static_cast<uint64_t>(purpose), kKdfContext,
                             key.data());
  return out;
}

MeshKey generateMeshKey() {
  ensureSodium();
  MeshKey key;
  crypto_kdf_keygen(key.data());
  return key;
}

Keyring::Keyring(const MeshKey& primary) {
  ensureSodium();
  entries_.push_back(entryFor(primary));
}

Keyring::~Keyring() {
  for (Entry& e : entries_) sodium_memzero(&e, sizeof e);
}

std::vector<Keyring::Entry>::iterator Keyring::find(const MeshKey& key) {
  return std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return sodium_memcmp(e.key.data(), key.data(), key.size()) == 0;
  });
}

void Keyring::install(const MeshKey& key) {
  if (find(key) != entries_.end()) return;
  entries_.push_back(entryFor(key));
}

Status Keyring::use(const MeshKey& key) {
  auto it = find(key);
  if (it == entries_.end())
    return makeError("cannot use a mesh key that is not installed; install it first on every node");
  std::rotate(entries_.begin(), it, it + 1);
  return Ok{};
}

Status Keyring::remove(const MeshKey& key) {
  auto it = find(key);
  if (it == entries_.end()) return makeError("mesh key to remove is not installed");
  if (it == entries_.begin())
    return makeError("cannot remove the primary mesh key; switch to another key with 'use' first");
  sodium_memzero(&*it, sizeof(Entry));
  entries_.erase(it);
  return Ok{};
}

}  // namespace qmesh::membership
