// Small builders shared by the membership tests.
#pragma once

#include <string>

#include "router/membership/claim_authority.h"
#include "router/membership/keyring.h"
#include "router/membership/messages.h"

namespace qmesh::membership::test {

// A mesh key of 32 equal bytes: distinct keys for distinct b.
inline MeshKey keyOf(uint8_t b) {
  MeshKey k;
  k.fill(b);
  return k;
}

inline NodeId idOf(uint8_t n) {
  NodeId id;
  id.bytes.fill(0x11);
  id.bytes[0] = n;
  return id;
}

// An unsigned record with a made-up id: for the merge rules and codecs, which never check
// signatures.
inline Member memberOf(uint8_t n, uint32_t incarnation = 0,
                       MemberState state = MemberState::kAlive) {
  Member m;
  m.id = idOf(n);
  m.name = "node-" + std::to_string(n);
  m.incarnation = incarnation;
  m.signedIncarnation = incarnation;
  m.state = state;
  m.address = "10.0.0." + std::to_string(n) + ":7946";
  return m;
}

// A real key pair per n, stable across runs.
inline Identity identityOf(uint8_t n) {
  std::array<uint8_t, 32> seed;
  seed.fill(0x5a);
  seed[0] = n;
  return Identity::fromSeed(seed);
}

// Member n as the engine expects to hear of it: its id is identityOf(n)'s, and the record
// is signed by it.
inline Member signedMemberOf(uint8_t n, uint32_t incarnation = 0, std::vector<uint8_t> meta = {}) {
  const Identity identity = identityOf(n);
  Member m = memberOf(n, incarnation);
  m.id = identity.id();
  m.meta = std::move(meta);
  m.signature = Ed25519Claims(identity).signAlive(m);
  return m;
}

inline Leave signedLeaveOf(uint8_t n, uint32_t incarnation) {
  const Identity identity = identityOf(n);
  return Leave{identity.id(), incarnation, Ed25519Claims(identity).signLeave(identity.id(), incarnation)};
}

// Counts verifications, to prove which claims the engine bothers to check.
class CountingClaims final : public ClaimAuthority {
 public:
  explicit CountingClaims(const ClaimAuthority& inner) : inner_(inner) {}
  Signature signAlive(const Member& self) const override { return inner_.signAlive(self); }
  Signature signLeave(const NodeId& self, uint32_t inc) const override { return inner_.signLeave(self, inc); }
  bool verifyAlive(const Member& record) const override {
    ++verifications;
    return inner_.verifyAlive(record);
  }
  bool verifyLeave(const Leave& leave) const override {
    ++verifications;
    return inner_.verifyLeave(leave);
  }
  mutable int verifications = 0;

 private:
  const ClaimAuthority& inner_;
};

}  // namespace qmesh::membership::test
