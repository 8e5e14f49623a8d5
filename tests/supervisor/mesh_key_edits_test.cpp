// The `keys` edits: install / use / remove for a rotation, and every refusal.
#include "supervisor/mesh_key_edits.h"

#include <gtest/gtest.h>

namespace qmesh {
namespace {

MeshKeyBytes keyOf(uint8_t fill) {
  MeshKeyBytes k;
  k.fill(fill);
  return k;
}

MeshKeyFile fileWith(std::vector<MeshKeyBytes> keys) {
  MeshKeyFile f;
  f.keys = std::move(keys);
  return f;
}

TEST(MeshKeyEditsTest, RotationInstallUseRemove) {
  MeshKeyFile f = fileWith({keyOf(1)});
  EXPECT_TRUE(installKey(f, keyOf(2)));
  EXPECT_EQ(f.keys, (std::vector<MeshKeyBytes>{keyOf(1), keyOf(2)})) << "installed keys only open";
  EXPECT_TRUE(*useKey(f, keyOf(2)));
  EXPECT_EQ(f.keys, (std::vector<MeshKeyBytes>{keyOf(2), keyOf(1)}));
  EXPECT_TRUE(*removeKey(f, keyOf(1)));
  EXPECT_EQ(f.keys, std::vector<MeshKeyBytes>{keyOf(2)});
}

TEST(MeshKeyEditsTest, RepeatingAnEditChangesNothing) {
  MeshKeyFile f = fileWith({keyOf(1), keyOf(2)});
  EXPECT_FALSE(installKey(f, keyOf(2)));
  EXPECT_FALSE(*useKey(f, keyOf(1)));
  EXPECT_EQ(f.keys, (std::vector<MeshKeyBytes>{keyOf(1), keyOf(2)}));
}

TEST(MeshKeyEditsTest, UseNeedsTheKeyInstalled) {
  MeshKeyFile f = fileWith({keyOf(1)});
  EXPECT_EQ(useKey(f, keyOf(2)).error().message,
            "key " + meshKeyFingerprint(keyOf(2)) +
                " is not installed: `keys install` it first (on every node of the mesh, so they "
                "all open what this node will seal with it)");
}

TEST(MeshKeyEditsTest, RemoveRefusesThePrimaryAndUnknownKeys) {
  MeshKeyFile f = fileWith({keyOf(1), keyOf(2)});
  EXPECT_EQ(removeKey(f, keyOf(1)).error().message,
            "key " + meshKeyFingerprint(keyOf(1)) +
                " is the primary (this node seals with it): switch with `keys use` first");
  EXPECT_EQ(removeKey(f, keyOf(3)).error().message,
            "key " + meshKeyFingerprint(keyOf(3)) + " is not installed (see `keys list`)");
  EXPECT_EQ(f.keys.size(), 2u);
}

TEST(MeshKeyEditsTest, KeyArgumentIsAKeyOrTheFingerprintOfAnInstalledOne) {
  const MeshKeyFile f = fileWith({keyOf(1), keyOf(2)});
  EXPECT_EQ(*resolveKeyArgument(f, encodeMeshKey(keyOf(7))), keyOf(7));
  EXPECT_EQ(*resolveKeyArgument(f, meshKeyFingerprint(keyOf(2))), keyOf(2));
  std::string upper = meshKeyFingerprint(keyOf(2));
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(*resolveKeyArgument(f, upper), keyOf(2));
  EXPECT_EQ(resolveKeyArgument(f, meshKeyFingerprint(keyOf(9))).error().message,
            "no installed key has the fingerprint " + meshKeyFingerprint(keyOf(9)) +
                " (see `keys list`)");
  EXPECT_EQ(resolveKeyArgument(f, "short").error().message,
            "not a mesh key: a mesh key is 44 base64 characters, this one has 5");
}

TEST(MeshKeyEditsTest, ListShowsFingerprintsPrimaryFirstAndNeverTheKeys) {
  const MeshKeyFile f = fileWith({keyOf(1), keyOf(2)});
  const std::string out = describeKeys(f);
  EXPECT_EQ(out, "  " + meshKeyFingerprint(keyOf(1)) + "  primary (seals and opens)\n  " +
                     meshKeyFingerprint(keyOf(2)) + "  opens only\n");
  EXPECT_EQ(out.find(encodeMeshKey(keyOf(1))), std::string::npos);
}

}  // namespace
}  // namespace qmesh
