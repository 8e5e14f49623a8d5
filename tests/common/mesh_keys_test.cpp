// The mesh key file: encoding, the file format and its errors, atomic 0600 writes.
#include "common/mesh_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/common/config_test_util.h"
#include "tests/support/test_env.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;
using test::Contains;
using test::keyOf;

std::string readText(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A key file as `keys` writes it: readable by its owner only.
fs::path privateFile(const test::TempDir& dir, const std::string& name, const std::string& text) {
  const fs::path p = dir.write(name, text);
  ::chmod(p.c_str(), 0600);
  return p;
}

mode_t modeOf(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

TEST(MeshKeyTest, EncodesAs44Base64CharactersAndDecodesBack) {
  const MeshKeyBytes k = generateMeshKey();
  const std::string text = encodeMeshKey(k);
  EXPECT_EQ(text.size(), 44u);
  EXPECT_EQ(text.back(), '=');
  EXPECT_EQ(*decodeMeshKey(text), k);
  EXPECT_EQ(*decodeMeshKey("  " + text + "\r\n"), k);
  EXPECT_EQ(encodeMeshKey(keyOf(0)), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
}

TEST(MeshKeyTest, GeneratedKeysDiffer) { EXPECT_NE(generateMeshKey(), generateMeshKey()); }

TEST(MeshKeyTest, DecodeSaysWhatIsWrongWithoutEchoingTheText) {
  const std::string good = encodeMeshKey(keyOf(9));
  EXPECT_EQ(decodeMeshKey("").error().message, "the key is empty");
  EXPECT_EQ(decodeMeshKey(good.substr(0, 43)).error().message,
            "a mesh key is 44 base64 characters, this one has 43");
  std::string bad = good;
  bad[5] = '!';
  EXPECT_EQ(decodeMeshKey(bad).error().message,
            "the key is not valid base64 (A-Z a-z 0-9 + / with '=' padding)");
  EXPECT_EQ(decodeMeshKey(std::string(42, 'A') + "==").error().message,
            "the key decodes to 31 bytes, a mesh key is 32");
  EXPECT_TRUE(Contains(decodeMeshKey("qmesh1.AAAA").error().message, "this is an invite token"));
  EXPECT_FALSE(Contains(decodeMeshKey(bad).error().message, bad));
}

TEST(MeshKeyTest, FingerprintIsEightHexCharactersAndTellsKeysApart) {
  const std::string fp = meshKeyFingerprint(keyOf(1));
  EXPECT_EQ(fp.size(), 8u);
  EXPECT_EQ(fp.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(fp, meshKeyFingerprint(keyOf(1)));
  EXPECT_NE(fp, meshKeyFingerprint(keyOf(2)));
  EXPECT_EQ(meshKeyLongFingerprint(keyOf(1)).substr(0, 8), fp);
  EXPECT_EQ(meshKeyLongFingerprint(keyOf(1)).size(), 16u);
}

TEST(MeshKeyFileTest, WriteThenReadKeepsTheOrderAndIsOwnerOnly) {
  test::TempDir dir;
  const fs::path p = dir / "state/sub/mesh.keys";
  ASSERT_TRUE(writeMeshKeys(p, {keyOf(1), keyOf(2), keyOf(3)}));
  EXPECT_EQ(*readMeshKeys(p), (std::vector<MeshKeyBytes>{keyOf(1), keyOf(2), keyOf(3)}));
  EXPECT_EQ(modeOf(p), 0600u);
  EXPECT_EQ(modeOf(dir / "state/sub"), 0700u) << "a directory created for the keys is private";
  EXPECT_EQ(std::distance(fs::directory_iterator(p.parent_path()), fs::directory_iterator()), 1)
      << "the temp file is renamed over the key file, nothing else is left";
}

TEST(MeshKeyFileTest, RewriteReplacesTheFileAndStaysOwnerOnly) {
  test::TempDir dir;
  const fs::path p = dir.write("mesh.keys", encodeMeshKey(keyOf(1)) + "\n");
  ::chmod(p.c_str(), 0644);
  ASSERT_TRUE(writeMeshKeys(p, {keyOf(2)}));
  EXPECT_EQ(*readMeshKeys(p), std::vector<MeshKeyBytes>{keyOf(2)});
  EXPECT_EQ(modeOf(p), 0600u);
}

TEST(MeshKeyFileTest, ReadIgnoresCommentsBlankLinesAndCrlf) {
  test::TempDir dir;
  const fs::path p = privateFile(dir, "mesh.keys", "# keys\r\n\r\n  " + encodeMeshKey(keyOf(4)) +
                                                "  \r\n   # old one below\n" +
                                                encodeMeshKey(keyOf(5)) + "\n\n");
  EXPECT_EQ(*readMeshKeys(p), (std::vector<MeshKeyBytes>{keyOf(4), keyOf(5)}));
}

TEST(MeshKeyFileTest, BadLineIsReportedWithFileLineAndTheFix) {
  test::TempDir dir;
  const fs::path p = privateFile(dir, "mesh.keys", "# keys\n" + encodeMeshKey(keyOf(4)) + "\nnot-a-key\n");
  EXPECT_EQ(readMeshKeys(p).error().message,
            p.string() + ":3: a mesh key is 44 base64 characters, this one has 9: fix the line or "
                         "delete it (a key is one line of 44 base64 characters, as "
                         "`qmesh-supervisor keys generate` prints)");
}

TEST(MeshKeyFileTest, DuplicateKeyIsReportedAtTheSecondLine) {
  test::TempDir dir;
  const std::string k = encodeMeshKey(keyOf(4));
  const fs::path p = privateFile(dir, "mesh.keys", k + "\n" + encodeMeshKey(keyOf(5)) + "\n" + k + "\n");
  EXPECT_EQ(readMeshKeys(p).error().message,
            p.string() + ":3: the same key as line 1: delete one of the two lines");
}

TEST(MeshKeyFileTest, FileReadableByOthersIsRefusedNamingTheChmodFix) {
  test::TempDir dir;
  const fs::path p = privateFile(dir, "mesh.keys", encodeMeshKey(keyOf(4)) + "\n");
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    ::chmod(p.c_str(), mode);
    auto r = readMeshKeys(p);
    ASSERT_FALSE(r) << std::oct << mode;
    EXPECT_TRUE(Contains(r.error().message, p.string() + ": the mesh key file is readable by other users"));
    EXPECT_TRUE(Contains(r.error().message, "run `chmod 600 " + p.string() + "`"));
  }
  ::chmod(p.c_str(), 0400);
  EXPECT_TRUE(readMeshKeys(p)) << "owner-only read is fine";
}

TEST(MeshKeyFileTest, FileWithoutKeysMissingOrADirectoryIsAnError) {
  test::TempDir dir;
  const fs::path empty = privateFile(dir, "empty.keys", "# nothing\n\n");
  EXPECT_TRUE(Contains(readMeshKeys(empty).error().message,
                       empty.string() + ": the mesh key file has no key"));
  EXPECT_EQ(readMeshKeys(dir / "nope").error().message,
            (dir / "nope").string() + ": cannot read the mesh key file (No such file or directory)");
  EXPECT_TRUE(Contains(readMeshKeys(dir.path()).error().message, ": is a directory"));
}

TEST(MeshKeyFileTest, WriteRefusesAnEmptyKeyList) {
  test::TempDir dir;
  EXPECT_TRUE(Contains(writeMeshKeys(dir / "k", {}).error().message, "refusing to write"));
  EXPECT_FALSE(fs::exists(dir / "k"));
}

TEST(MeshKeyFileTest, InviteRecordsSurviveAKeyRewrite) {
  test::TempDir dir;
  const fs::path p = dir / "mesh.keys";
  MeshKeyFile f;
  f.keys = {keyOf(1)};
  f.applied_invites = {meshKeyLongFingerprint(keyOf(1))};
  ASSERT_TRUE(writeMeshKeyFile(p, f));
  EXPECT_TRUE(Contains(readText(p), "# invite-applied " + meshKeyLongFingerprint(keyOf(1))));
  ASSERT_TRUE(writeMeshKeys(p, {keyOf(2), keyOf(1)}));
  const auto back = *readMeshKeyFile(p);
  EXPECT_EQ(back.keys, (std::vector<MeshKeyBytes>{keyOf(2), keyOf(1)}));
  EXPECT_EQ(back.applied_invites, f.applied_invites);
}

}  // namespace
}  // namespace qmesh
