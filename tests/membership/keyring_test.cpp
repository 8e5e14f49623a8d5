#include "router/membership/keyring.h"

#include <gtest/gtest.h>

namespace qmesh::membership {
namespace {

MeshKey keyOf(uint8_t b) {
  MeshKey k;
  k.fill(b);
  return k;
}

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
