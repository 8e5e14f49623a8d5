// Small builders shared by the membership tests.
#pragma once

#include <string>

#include "router/membership/messages.h"

namespace qmesh::membership::test {

inline NodeId idOf(uint8_t n) {
  NodeId id;
  id.bytes.fill(0x11);
  id.bytes[0] = n;
  return id;
}

inline Member memberOf(uint8_t n, uint32_t incarnation = 0,
                       MemberState state = MemberState::kAlive) {
  Member m;
  m.id = idOf(n);
  m.name = "node-" + std::to_string(n);
  m.incarnation = incarnation;
  m.state = state;
  m.address = "10.0.0." + std::to_string(n) + ":7946";
  return m;
}

}  // namespace qmesh::membership::test
