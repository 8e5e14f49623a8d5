#include "router/membership/keyring.h"

#include <gtest/gtest.h>

#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using test::keyOf;

TEST(Keyring, SubkeysDifferPerPurposeAndPerKey) {
  const MeshKey a = keyOf(1);
  EXPECT_NE(deriveSubkey(a, KeyPurpose::kGossip), deriveSubkey(a, KeyPurpose::kPushPull));
  EXPECT_NE(deriveSubkey(a, KeyPurpose::kGossip), deriveSubkey(keyOf(2), KeyPurpose::kGossip));
  EXPECT_EQ(deriveSubkey(a, KeyPurpose::kGossip), deriveSubkey(a, KeyPurpose::kGossip));
  EXPECT_NE(Subkey(deriveSubkey(a, KeyPurpose::kGossip)), Subkey(a));
}

TEST(Keyring, RotatesByInstallUseRemove) {
  Keyring ring(keyOf(1));
  ring.install(keyOf(2));
  ring.install(keyOf(2));  // idempotent
  ASSERT_EQ(ring.entries().size(), 2u);
  EXPECT_EQ(ring.primary().key, keyOf(1));
  ASSERT_TRUE(ring.use(keyOf(2)).ok());
  EXPECT_EQ(ring.primary().key, keyOf(2));
  ASSERT_TRUE(ring.remove(keyOf(1)).ok());
  EXPECT_EQ(ring.entries().size(), 1u);
}

// Install grows the entries by hand (no freed buffer keeps a key) and use() moves the key
// to the front by swapping bytes: every key must still be there, whole, in order.
TEST(Keyring, ManyInstallsKeepEveryKeyWholeAndUseMovesOneToTheFront) {
  Keyring ring(keyOf(1));
  for (uint8_t b = 2; b <= 20; ++b) ring.install(keyOf(b));
  ASSERT_EQ(ring.entries().size(), 20u);
  for (uint8_t b = 1; b <= 20; ++b) {
    const auto& e = ring.entries()[b - 1];
    EXPECT_EQ(e.key, keyOf(b));
    EXPECT_EQ(e.gossip, deriveSubkey(keyOf(b), KeyPurpose::kGossip));
    EXPECT_EQ(e.pushPull, deriveSubkey(keyOf(b), KeyPurpose::kPushPull));
  }
  ASSERT_TRUE(ring.use(keyOf(13)).ok());
  EXPECT_EQ(ring.primary().key, keyOf(13));
  EXPECT_EQ(ring.primary().gossip, deriveSubkey(keyOf(13), KeyPurpose::kGossip));
  EXPECT_EQ(ring.entries()[1].key, keyOf(1)) << "the others keep their order";
  EXPECT_EQ(ring.entries()[13].key, keyOf(14));
}

TEST(Keyring, UseRequiresAnInstalledKey) {
  Keyring ring(keyOf(1));
  auto s = ring.use(keyOf(9));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("install"), std::string::npos);
}

TEST(Keyring, PrimaryCannotBeRemoved) {
  Keyring ring(keyOf(1));
  ring.install(keyOf(2));
  EXPECT_FALSE(ring.remove(keyOf(1)).ok());
  EXPECT_FALSE(ring.remove(keyOf(7)).ok());
  EXPECT_EQ(ring.entries().size(), 2u);
}

TEST(Keyring, GeneratedKeysAreDistinct) { EXPECT_NE(generateMeshKey(), generateMeshKey()); }

}  // namespace
}  // namespace qmesh::membership
