// A node's long-term identity: an Ed25519 key pair. The public key is the node's id in the
// mesh (NodeId); the secret key signs the node's claims about itself and its data-plane
// handshakes, so a member that holds the mesh key still cannot speak for another node.
// Persisted in the node's data dir so the id survives restarts.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>

#include "common/result.h"
#include "router/membership/node_id.h"

namespace qmesh::membership {

using Signature = std::array<uint8_t, 64>;  // crypto_sign_BYTES

class Identity {
 public:
  static constexpr std::size_t kSecretBytes = 64;  // crypto_sign_SECRETKEYBYTES

  // A fresh random key pair (tests, ephemeral nodes).
  static Identity generate();
  // Deterministic from a 32-byte seed: simulations and tests that need stable ids.
  static Identity fromSeed(std::span<const uint8_t, 32> seed);

  Identity() = default;
  Identity(const Identity&) = default;
  Identity(Identity&&) = default;
  Identity& operator=(const Identity&) = default;
  Identity& operator=(Identity&&) = default;
  ~Identity();  // zeroes the secret key (sodium_memzero)

  const NodeId& id() const { return id_; }
  Signature sign(std::span<const uint8_t> message) const;
  const std::array<uint8_t, kSecretBytes>& secretKey() const { return secret_; }

 private:
  NodeId id_;
  std::array<uint8_t, kSecretBytes> secret_{};
};

// Checks a detached Ed25519 signature by `signer` (whose public key is its id).
bool verifySignature(const NodeId& signer, std::span<const uint8_t> message, const Signature& signature);

// Reads the identity at `path` (the 32-byte seed, hex, one line), or creates it there
// (parent dirs included, file mode 0600) if the file does not exist. A file that exists
// but is unreadable or malformed is an error naming the path: a node must never silently
// change its id.
Result<Identity> loadOrCreateIdentity(const std::filesystem::path& path);

}  // namespace qmesh::membership
