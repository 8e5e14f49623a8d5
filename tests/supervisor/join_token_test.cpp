// Where `start` takes the invite token from: never argv.
#include "supervisor/join_token.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/test_env.h"

namespace qmesh {
namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

JoinFlags join(const std::string& value) {
  JoinFlags f;
  f.join = value;
  return f;
}
JoinFlags joinFile(const std::string& path) {
  JoinFlags f;
  f.join_file = path;
  return f;
}

TEST(JoinTokenTest, TokenOnTheCommandLineIsRefusedNamingTheAlternatives) {
  std::istringstream in("qmesh1.fromstdin\n");
  auto r = resolveJoinToken(join("qmesh1.abc"), in, nullptr);
  ASSERT_FALSE(r);
  EXPECT_TRUE(has(r.error().message, "process list")) << r.error().message;
  for (const char* alt : {"--join-file PATH", "--join -", "QMESH_JOIN"})
    EXPECT_TRUE(has(r.error().message, alt)) << alt << ": " << r.error().message;
}

TEST(JoinTokenTest, DashReadsTheFirstNonBlankLineOfStdin) {
  std::istringstream in("\n  qmesh1.fromstdin  \nignored\n");
  auto r = resolveJoinToken(join("-"), in, "qmesh1.env");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "qmesh1.fromstdin");
}

TEST(JoinTokenTest, DashWithEmptyStdinIsAnError) {
  std::istringstream in("");
  auto r = resolveJoinToken(join("-"), in, nullptr);
  ASSERT_FALSE(r);
  EXPECT_TRUE(has(r.error().message, "stdin ended without a token")) << r.error().message;
}

TEST(JoinTokenTest, FileIsReadAndAMissingOneIsNamed) {
  test::TempDir dir;
  const auto file = dir.write("invite", "qmesh1.fromfile\n");
  std::istringstream in;
  auto r = resolveJoinToken(joinFile(file.string()), in, "qmesh1.env");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "qmesh1.fromfile");
  auto missing = resolveJoinToken(joinFile((dir / "nope").string()), in, nullptr);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(has(missing.error().message, (dir / "nope").string())) << missing.error().message;
}

TEST(JoinTokenTest, EnvironmentIsUsedWhenNoFlagIsGivenAndNothingOtherwise) {
  std::istringstream in;
  EXPECT_EQ(*resolveJoinToken({}, in, " qmesh1.env\n"), "qmesh1.env");
  EXPECT_EQ(*resolveJoinToken({}, in, nullptr), "");
}

TEST(JoinTokenTest, DashAndFileTogetherAreAnError) {
  std::istringstream in("qmesh1.x\n");
  EXPECT_FALSE(resolveJoinToken([] { JoinFlags f = join("-"); f.join_file = "/x"; return f; }(), in, nullptr));
}

}  // namespace
}  // namespace qmesh
