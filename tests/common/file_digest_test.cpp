#include "common/file_digest.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/test_env.h"

using namespace qmesh;

namespace {
void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }
}  // namespace

TEST(FileDigest, IsTheSha256OfTheFileInHex) {
  test::TempDir dir;
  write(dir / "abc", "abc");
  const auto d = sha256File(dir / "abc");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(*d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2 example
}

TEST(FileDigest, MissingFileIsAnErrorNamingIt) {
  const auto d = sha256File("/nonexistent/model.gguf");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("/nonexistent/model.gguf"), std::string::npos);
}

TEST(FileDigestCache, RemembersAFileUntilItChanges) {
  test::TempDir dir;
  const auto f = dir / "m.gguf";
  write(f, "abc");
  FileDigestCache cache;
  EXPECT_FALSE(cache.known(f));
  ASSERT_TRUE(cache.digest(f));
  EXPECT_EQ(cache.known(f), *sha256File(f));
  write(f, "abcd");  // a new size: a new version of the file
  EXPECT_FALSE(cache.known(f));
  EXPECT_EQ(*cache.digest(f), *sha256File(f));
}

TEST(FileDigest, CancelledHashingGivesUp) {
  test::TempDir dir;
  write(dir / "abc", "abc");
  EXPECT_FALSE(sha256File(dir / "abc", [] { return true; }));
}
