#include "router/membership/claim_authority.h"

#include <string_view>

#include "router/membership/wire.h"

namespace qmesh::membership {
namespace {

// Versioned, NUL-terminated tags: a future record layout gets a new tag, never reuses one.
constexpr std::string_view kAliveTag{"qmesh-alive-v1\0", 15};
constexpr std::string_view kLeaveTag{"qmesh-leave-v1\0", 15};

void writeTag(wire::Writer& w, std::string_view tag) {
  w.bytes(std::span(reinterpret_cast<const uint8_t*>(tag.data()), tag.size()));
}

}  // namespace

std::vector<uint8_t> aliveClaimBytes(const Member& m) {
  std::vector<uint8_t> out;
  out.reserve(kAliveTag.size() + NodeId::kSize + 4 + 4 + m.name.size() + m.address.size() + m.meta.size());
  wire::Writer w(out);
  writeTag(w, kAliveTag);
  w.bytes(m.id.bytes);
  w.u32(m.incarnation);
  w.str8(m.name);
  w.str8(m.address);
  w.blob16(m.meta);
  return out;
}

std::vector<uint8_t> leaveClaimBytes(const NodeId& id, uint32_t incarnation) {
  std::vector<uint8_t> out;
  wire::Writer w(out);
  writeTag(w, kLeaveTag);
  w.bytes(id.bytes);
  w.u32(incarnation);
  return out;
}

Signature Ed25519Claims::signAlive(const Member& self) const {
  return identity_.sign(aliveClaimBytes(self));
}

Signature Ed25519Claims::signLeave(const NodeId& self, uint32_t incarnation) const {
  return identity_.sign(leaveClaimBytes(self, incarnation));
}

bool Ed25519Claims::verifyAlive(const Member& record) const {
  return verifySignature(record.id, aliveClaimBytes(record), record.signature);
}

bool Ed25519Claims::verifyLeave(const Leave& leave) const {
  return verifySignature(leave.id, leaveClaimBytes(leave.id, leave.incarnation), leave.signature);
}

}  // namespace qmesh::membership
