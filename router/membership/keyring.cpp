#include "router/membership/keyring.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>

#include "common/key_rotation.h"
#include "common/sodium_init.h"

namespace qmesh::membership {
namespace {

// crypto_kdf contexts are exactly 8 bytes; versioned so a future scheme gets fresh keys.
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "qmesh-v1";

static_assert(sizeof(MeshKey) == crypto_kdf_KEYBYTES);
static_assert(sizeof(Subkey) == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

void derive(Subkey& out, const MeshKey& key, KeyPurpose purpose) {
  crypto_kdf_derive_from_key(out.data(), out.size(), static_cast<uint64_t>(purpose), kKdfContext,
                             key.data());
}

// Keys live in entries_ only: built in place, moved byte by byte, and every buffer the vector
// lets go of is zeroed first. No copy of a key is left behind in freed memory.
void fillEntry(Keyring::Entry& e, const MeshKey& key) {
  e.key = key;
  derive(e.gossip, key, KeyPurpose::kGossip);
  derive(e.pushPull, key, KeyPurpose::kPushPull);
}

void swapEntries(Keyring::Entry& a, Keyring::Entry& b) {
  auto* pa = reinterpret_cast<unsigned char*>(&a);
  auto* pb = reinterpret_cast<unsigned char*>(&b);
  for (std::size_t i = 0; i < sizeof(Keyring::Entry); ++i) std::swap(pa[i], pb[i]);
}

void zero(std::vector<Keyring::Entry>& entries) {
  if (!entries.empty()) sodium_memzero(entries.data(), entries.size() * sizeof(Keyring::Entry));
}

// The rotation rules (common/key_rotation.h) take the key's position, 0 being the primary.
std::optional<std::size_t> positionOf(const std::vector<Keyring::Entry>& entries,
                                      std::vector<Keyring::Entry>::const_iterator it) {
  if (it == entries.end()) return std::nullopt;
  return static_cast<std::size_t>(it - entries.begin());
}

}  // namespace

Subkey deriveSubkey(const MeshKey& key, KeyPurpose purpose) {
  ensureSodium();
  Subkey out;
  derive(out, key, purpose);
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
  entries_.reserve(4);
  fillEntry(entries_.emplace_back(), primary);
}

Keyring::~Keyring() { zero(entries_); }

std::vector<Keyring::Entry>::iterator Keyring::find(const MeshKey& key) {
  return std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return sodium_memcmp(e.key.data(), key.data(), key.size()) == 0;
  });
}

void Keyring::install(const MeshKey& key) {
  if (installVerdict(positionOf(entries_, find(key))) != KeyEditVerdict::kApply) return;
  if (entries_.size() == entries_.capacity()) {
    // Grow by hand: a reallocating push_back would free the old buffer with the keys in it.
    std::vector<Entry> grown;
    grown.reserve(entries_.capacity() * 2);
    for (Entry& e : entries_) swapEntries(grown.emplace_back(), e);
    zero(entries_);
    entries_.swap(grown);
  }
  fillEntry(entries_.emplace_back(), key);
}

Status Keyring::use(const MeshKey& key) {
  auto it = find(key);
  switch (useVerdict(positionOf(entries_, it))) {
    case KeyEditVerdict::kNotInstalled:
      return makeError("cannot use a mesh key that is not installed; install it first on every node");
    case KeyEditVerdict::kApply:
      break;
    default:
      return Ok{};
  }
  for (; it != entries_.begin(); --it) swapEntries(*it, *(it - 1));  // no temporary copy
  return Ok{};
}

Status Keyring::remove(const MeshKey& key) {
  auto it = find(key);
  switch (removeVerdict(positionOf(entries_, it))) {
    case KeyEditVerdict::kNotInstalled:
      return makeError("mesh key to remove is not installed");
    case KeyEditVerdict::kIsPrimary:
      return makeError("cannot remove the primary mesh key; switch to another key with 'use' first");
    default:
      break;
  }
  sodium_memzero(&*it, sizeof(Entry));
  entries_.erase(it);
  return Ok{};
}

}  // namespace qmesh::membership
