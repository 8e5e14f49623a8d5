// The node identity file: created owner-only, and refused when others could have read it.
#include "router/membership/identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/test_env.h"

namespace qmesh::membership {
namespace {

TEST(IdentityFile, IsCreatedOwnerOnlyAndLoadsTheSameId) {
  qmesh::test::TempDir dir;
  const auto path = dir / "state" / "node.id";
  auto created = loadOrCreateIdentity(path);
  ASSERT_TRUE(created) << created.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = loadOrCreateIdentity(path);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->id(), created->id());
}

TEST(IdentityFile, ReadableByOthersIsRefusedNamingTheChmodFix) {
  qmesh::test::TempDir dir;
  const auto path = dir / "node.id";
  ASSERT_TRUE(loadOrCreateIdentity(path));
  ::chmod(path.c_str(), 0644);
  auto r = loadOrCreateIdentity(path);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("run `chmod 600 " + path.string() + "`"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace qmesh::membership
