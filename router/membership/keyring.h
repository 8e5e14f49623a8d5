// The mesh keys a node accepts, for rotation without downtime (as Serf does):
//   1. install the new key on every node      (still sending under the old one)
//   2. use it: make it primary on every node   (everyone can already open it)
//   3. remove the old key from every node
// Opening tries each installed key; sealing always uses the primary. Packets never carry
// the raw mesh key's output: each purpose gets its own subkey via crypto_kdf, so a
// weakness in one use (or a nonce accident) cannot spill into another.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/result.h"

namespace qmesh::membership {

using MeshKey = std::array<uint8_t, 32>;  // crypto_kdf_KEYBYTES
using Subkey = std::array<uint8_t, 32>;   // crypto_aead_xchacha20poly1305_ietf_KEYBYTES

// Subkey ids for crypto_kdf: part of the protocol, append only.
enum class KeyPurpose : uint64_t {
  kGossip = 1,    // UDP membership datagrams
  kPushPull = 2,  // full-state sync over the reliable channel (TCP)
  kInvite = 3,    // invite tokens (reserved)
};

Subkey deriveSubkey(const MeshKey& key, KeyPurpose purpose);
MeshKey generateMeshKey();

class Keyring {
 public:
  struct Entry {
    MeshKey key;
    Subkey gossip;
    Subkey pushPull;
  };

  explicit Keyring(const MeshKey& primary);
  ~Keyring();
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // Adds a key for opening; installing a key twice is a no-op.
  void install(const MeshKey& key);
  // Makes an installed key the one we seal with.
  Status use(const MeshKey& key);
  // The primary cannot be removed: a node must always be able to speak.
  Status remove(const MeshKey& key);

  const Entry& primary() const { return entries_.front(); }
  // Primary first: most packets open on the first try.
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry>::iterator find(const MeshKey& key);
  std::vector<Entry> entries_;
};

}  // namespace qmesh::membership
