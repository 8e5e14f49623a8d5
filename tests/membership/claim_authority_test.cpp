#include "router/membership/claim_authority.h"

#include <gtest/gtest.h>

#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using test::identityOf;
using test::signedMemberOf;

TEST(ClaimAuthority, SignedRecordVerifiesAndAnyChangedFieldBreaksIt) {
  const Member good = signedMemberOf(1, 4, {1, 2, 3});
  const Identity id1 = identityOf(1);
  Ed25519Claims claims(id1);
  EXPECT_TRUE(claims.verifyAlive(good));

  std::vector<std::pair<const char*, Member>> changed;
  Member m = good;
  m.name = "node-x";
  changed.emplace_back("name", m);
  m = good;
  m.address = "10.6.6.6:7946";
  changed.emplace_back("address", m);
  m = good;
  m.meta.push_back(4);
  changed.emplace_back("meta", m);
  m = good;
  m.incarnation = 5;
  changed.emplace_back("incarnation", m);
  m = good;
  m.id = identityOf(2).id();
  changed.emplace_back("id", m);
  for (const auto& [field, record] : changed) EXPECT_FALSE(claims.verifyAlive(record)) << field;
}

TEST(ClaimAuthority, StateIsTheObserversViewAndNotSigned) {
  Member m = signedMemberOf(1);
  m.state = MemberState::kDead;
  const Identity id1 = identityOf(1);
  EXPECT_TRUE(Ed25519Claims(id1).verifyAlive(m));
}

TEST(ClaimAuthority, AHolderOfTheMeshKeyCannotSignForAnotherNode) {
  // Node 2 signs a record that claims node 1's id: checked against node 1's key, it fails.
  Member m = signedMemberOf(1);
  const Identity id2 = identityOf(2);
  Ed25519Claims node2(id2);
  m.signature = node2.signAlive(m);
  EXPECT_FALSE(node2.verifyAlive(m));
  EXPECT_FALSE(node2.verifyLeave(Leave{m.id, 1, node2.signLeave(m.id, 1)}));
}

TEST(ClaimAuthority, LeaveIsBoundToItsIncarnationAndDomain) {
  const Identity id1 = identityOf(1);
  Ed25519Claims claims(id1);
  const Leave leave{id1.id(), 3, claims.signLeave(id1.id(), 3)};
  EXPECT_TRUE(claims.verifyLeave(leave));
  EXPECT_FALSE(claims.verifyLeave(Leave{id1.id(), 4, leave.signature}));
  // The domain tags keep one kind of signature from passing for the other.
  const Member m = signedMemberOf(1, 3);
  EXPECT_FALSE(claims.verifyLeave(Leave{m.id, 3, m.signature}));
  Member asAlive = m;
  asAlive.signature = leave.signature;
  EXPECT_FALSE(claims.verifyAlive(asAlive));
}

TEST(ClaimAuthority, SignedBytesStartWithTheDomainTagAndCoverEveryRecordField) {
  Member m = test::memberOf(1, 7);
  m.meta = {9, 9};
  const auto bytes = aliveClaimBytes(m);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 14), "qmesh-alive-v1");
  // tag, id, incarnation, then name, address and meta with their length prefixes
  EXPECT_EQ(bytes.size(), 15u + 32 + 4 + (1 + m.name.size()) + (1 + m.address.size()) + (2 + 2));
  EXPECT_EQ(leaveClaimBytes(m.id, 7).size(), 15u + 32 + 4);
}

TEST(ClaimAuthority, UnsignedClaimsSignWithZerosAndBelieveEverything) {
  UnsignedClaims claims;
  const Member m = test::memberOf(1);
  EXPECT_EQ(claims.signAlive(m), Signature{});
  EXPECT_TRUE(claims.verifyAlive(m));
  EXPECT_TRUE(claims.verifyLeave(Leave{m.id, 1, Signature{}}));
}

}  // namespace
}  // namespace qmesh::membership
