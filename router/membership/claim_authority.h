// Who may say what about a member. A member's description of itself (its alive record: id,
// name, incarnation, address, metadata) and its goodbye (leave) are believed only when
// signed with the member's own Ed25519 key, whose public half is its NodeId. The mesh key
// keeps outsiders out; these signatures keep insiders honest: a router holding the mesh key
// still cannot announce another node's address or workers, nor make it leave.
//
// Suspect and dead claims stay unsigned: they are one member's view of another, and the
// subject answers them with a signed alive at a higher incarnation.
//
// The engine takes a ClaimAuthority by reference (the Clock/Random pattern): routers use
// Ed25519Claims; only large simulations use UnsignedClaims (see there).
#pragma once

#include <cstdint>
#include <vector>

#include "router/membership/identity.h"
#include "router/membership/messages.h"

namespace qmesh::membership {

class ClaimAuthority {
 public:
  virtual ~ClaimAuthority() = default;

  // Our own record as it stands (self.incarnation is the one signed; self.id must be ours).
  virtual Signature signAlive(const Member& self) const = 0;
  virtual Signature signLeave(const NodeId& self, uint32_t incarnation) const = 0;

  // `record.signature` is record.id's signature over the record at record.incarnation.
  virtual bool verifyAlive(const Member& record) const = 0;
  virtual bool verifyLeave(const Leave& leave) const = 0;
};

// The bytes a signature covers: a domain tag (so an alive signature can never pass for a
// leave, nor for anything else the identity signs, such as data-plane handshakes), then the
// fields in wire order with their length prefixes. The state is not covered: it is the
// observer's view, not the member's claim.
std::vector<uint8_t> aliveClaimBytes(const Member& m);
std::vector<uint8_t> leaveClaimBytes(const NodeId& id, uint32_t incarnation);

// Real signing with the node's identity (which must outlive this object).
class Ed25519Claims final : public ClaimAuthority {
 public:
  explicit Ed25519Claims(const Identity& identity) : identity_(identity) {}

  Signature signAlive(const Member& self) const override;
  Signature signLeave(const NodeId& self, uint32_t incarnation) const override;
  bool verifyAlive(const Member& record) const override;
  bool verifyLeave(const Leave& leave) const override;

 private:
  const Identity& identity_;
};

// No signatures: signs with zeros and believes every claim. For simulations of hundreds to
// thousands of nodes in one process ONLY: there every node verifies every other's records
// (a 1,000-node join is ~1M Ed25519 verifications, ~1 CPU-minute, repeated for every meta
// update wave), which buys nothing when all nodes are the same trusted code. The wire
// format is unchanged (64 zero bytes per signature), so byte counts stay true. Never in a
// router: with it, any holder of the mesh key can speak for any node.
class UnsignedClaims final : public ClaimAuthority {
 public:
  Signature signAlive(const Member&) const override { return {}; }
  Signature signLeave(const NodeId&, uint32_t) const override { return {}; }
  bool verifyAlive(const Member&) const override { return true; }
  bool verifyLeave(const Leave&) const override { return true; }
};

}  // namespace qmesh::membership
