// The control API's token: random, stored 0600, compared whole.
#include "supervisor/control_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/test_env.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;

TEST(ControlTokenTest, IsSixtyFourHexCharactersAndFreshEachTime) {
  const std::string a = generateControlToken(), b = generateControlToken();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
  EXPECT_NE(a, b);
}

TEST(ControlTokenTest, IsWrittenOwnerOnlyAndReadBack) {
  test::TempDir dir;
  const std::string t = generateControlToken();
  ASSERT_TRUE(writeControlToken(dir.path(), t));
  struct stat st {};
  ASSERT_EQ(::stat(controlTokenPath(dir.path()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = readControlToken(dir.path());
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, t);
}

TEST(ControlTokenTest, MissingFileNamesItAndTheFix) {
  test::TempDir dir;
  auto read = readControlToken(dir.path());
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find((dir / "control.token").string()), std::string::npos);
  EXPECT_NE(read.error().message.find("as the user that started the node"), std::string::npos);
}

TEST(ControlTokenTest, AuthorizationMatchesOnlyTheWholeTokenAfterBearer) {
  const std::string t(64, 'c');
  EXPECT_TRUE(authorizationMatches("Bearer " + t, t));
  EXPECT_TRUE(authorizationMatches("BEARER " + t, t));
  EXPECT_FALSE(authorizationMatches(t, t)) << "no scheme";
  EXPECT_FALSE(authorizationMatches("Basic " + t, t));
  EXPECT_FALSE(authorizationMatches("Bearer " + t.substr(1), t));
  EXPECT_FALSE(authorizationMatches("Bearer " + t + "c", t));
  EXPECT_FALSE(authorizationMatches("Bearer " + std::string(63, 'c') + "d", t)) << "last byte differs";
  EXPECT_FALSE(authorizationMatches("Bearer ", "")) << "an empty expected token matches nothing";
}

}  // namespace
}  // namespace qmesh
