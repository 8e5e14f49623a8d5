#include "router/mesh/member_snapshot.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/logging.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

using namespace qmesh::router;
using qmesh::test::FakeClock;
using qmesh::test::TempDir;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ino_t inodeOf(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::size_t tempFilesIn(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().find(".tmp.") != std::string::npos;
  return n;
}

// Everything logged while it lives, instead of stderr.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace

TEST(MemberSnapshotFile, RoundTripsAddressesUnderACommentHeader) {
  TempDir dir;
  const fs::path file = dir / "mesh.members";
  ASSERT_TRUE(writeMemberSnapshot(file, {"10.0.0.2:7946", "10.0.0.3:7946", "[fd00::4]:7946"}));
  const std::string text = slurp(file);
  EXPECT_EQ(text.rfind("# qmesh member snapshot", 0), 0u) << text;
  EXPECT_NE(text.find("\n10.0.0.2:7946\n10.0.0.3:7946\n[fd00::4]:7946\n"), std::string::npos) << text;
  auto back = readMemberSnapshot(file);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, (std::vector<std::string>{"10.0.0.2:7946", "10.0.0.3:7946", "[fd00::4]:7946"}));
  EXPECT_EQ(tempFilesIn(dir.path()), 0u);
}

TEST(MemberSnapshotFile, MissingFileIsAnEmptyListNotAnError) {
  TempDir dir;
  auto r = readMemberSnapshot(dir / "mesh.members");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->empty());
}

TEST(MemberSnapshotFile, ToleratesBlankLinesCommentsAndDuplicates) {
  TempDir dir;
  const fs::path file = dir.write("mesh.members", "# hand edited\n\n  10.0.0.2:7946  \r\n10.0.0.2:7946\nlocalhost:1\n");
  auto r = readMemberSnapshot(file);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::string>{"10.0.0.2:7946", "127.0.0.1:1"}));
}

TEST(MemberSnapshotFile, CorruptFileIsAnErrorNamingTheFileAndLine) {
  TempDir dir;
  const fs::path file = dir.write("mesh.members", "10.0.0.2:7946\nnot an address\n");
  auto r = readMemberSnapshot(file);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(file.string() + ":2:"), std::string::npos) << r.error().message;

  const fs::path binary = dir.write("binary", std::string("\x00\x01\xff\xfe:\n", 6));
  EXPECT_FALSE(readMemberSnapshot(binary));
  const fs::path noPort = dir.write("noport", "10.0.0.2:0\n");
  EXPECT_FALSE(readMemberSnapshot(noPort));
  const fs::path huge = dir.write("huge", std::string(2 << 20, '#'));
  auto h = readMemberSnapshot(huge);
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message.find("too large"), std::string::npos) << h.error().message;
  auto d = readMemberSnapshot(dir.path());  // a directory where the file should be
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find(dir.path().string()), std::string::npos) << d.error().message;
}

TEST(MemberSnapshotFile, ReplacesTheFileAtomicallyByRename) {
  TempDir dir;
  const fs::path file = dir / "mesh.members";
  ASSERT_TRUE(writeMemberSnapshot(file, {"10.0.0.2:7946"}));
  // A reader that opened the old file keeps reading the old file whole: the new one is a new
  // inode renamed over it, never the old one truncated and rewritten in place.
  std::ifstream reader(file);
  const auto inodeBefore = inodeOf(file);
  ASSERT_TRUE(writeMemberSnapshot(file, {"10.0.0.3:7946", "10.0.0.4:7946"}));
  std::stringstream old;
  old << reader.rdbuf();
  EXPECT_NE(old.str().find("10.0.0.2:7946"), std::string::npos) << old.str();
  EXPECT_EQ(old.str().find("10.0.0.3"), std::string::npos) << old.str();
  EXPECT_NE(inodeOf(file), inodeBefore);
  EXPECT_EQ(*readMemberSnapshot(file), (std::vector<std::string>{"10.0.0.3:7946", "10.0.0.4:7946"}));
  EXPECT_EQ(tempFilesIn(dir.path()), 0u);
}

TEST(MemberSnapshotFile, UnwritableLocationIsAnErrorNamingTheFile) {
  TempDir dir;
  const fs::path file = dir / "no-such-dir" / "mesh.members";
  auto s = writeMemberSnapshot(file, {"10.0.0.2:7946"});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find(file.string()), std::string::npos) << s.error().message;
}

TEST(MemberSnapshotFile, LivesBesideTheIdentityFile) {
  EXPECT_EQ(defaultMemberSnapshotFile("/var/lib/qmesh/node.id"), fs::path("/var/lib/qmesh/mesh.members"));
}

TEST(MemberSnapshotJoin, SeedsFirstThenRememberedMembersDeduplicatedWithoutSelf) {
  const auto addrs = joinAddresses({"10.0.0.1:7946", "localhost:7000"},
                                   {"127.0.0.1:7000", "10.0.0.5:7946", "10.0.0.9:7946", "10.0.0.1:7946"},
                                   "10.0.0.9:7946");
  EXPECT_EQ(addrs, (std::vector<std::string>{"10.0.0.1:7946", "127.0.0.1:7000", "10.0.0.5:7946"}));
  EXPECT_TRUE(joinAddresses({}, {}, "10.0.0.9:7946").empty());
}

TEST(MemberSnapshot, CorruptFileLoadsAsEmptyWithAWarningNamingIt) {
  TempDir dir;
  const fs::path file = dir.write("mesh.members", "garbage\n");
  FakeClock clock;
  MemberSnapshot snap(file, clock);
  CapturedLog log;
  EXPECT_TRUE(snap.load().empty());
  EXPECT_NE(log.text().find("[warning]"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find(file.string()), std::string::npos) << log.text();
  // Its content being unknown, the first change replaces it even with nothing to list.
  snap.changed();
  snap.poll([] { return std::vector<std::string>{}; });
  auto r = readMemberSnapshot(file);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->empty());
}

TEST(MemberSnapshot, WritesAtMostOncePerIntervalAndOnlyWhatChanged) {
  TempDir dir;
  const fs::path file = dir / "mesh.members";
  FakeClock clock;
  MemberSnapshot snap(file, clock, 1s);
  EXPECT_TRUE(snap.load().empty());
  std::vector<std::string> live = {"10.0.0.2:7946"};
  int asked = 0;
  const auto current = [&] {
    ++asked;
    return live;
  };
  snap.poll(current);  // nothing changed: the membership is not even looked at
  EXPECT_EQ(asked, 0);
  snap.changed();
  snap.poll(current);
  EXPECT_EQ(snap.writes(), 1u);
  EXPECT_EQ(*readMemberSnapshot(file), live);

  // A burst of changes within the interval: one write at its end, with the latest view.
  live.push_back("10.0.0.3:7946");
  for (int i = 0; i < 50; ++i) {
    snap.changed();
    snap.poll(current);
    clock.advance(std::chrono::milliseconds(19));
  }
  EXPECT_EQ(snap.writes(), 1u);
  EXPECT_EQ(asked, 1);
  clock.advance(std::chrono::milliseconds(50));
  snap.poll(current);
  EXPECT_EQ(snap.writes(), 2u);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(*readMemberSnapshot(file), (std::vector<std::string>{"10.0.0.2:7946", "10.0.0.3:7946"}));

  // Changes that leave the set as it was (metadata updates, a refuted suspicion) write nothing.
  std::reverse(live.begin(), live.end());
  clock.advance(2s);
  snap.changed();
  snap.poll(current);
  EXPECT_EQ(snap.writes(), 2u);
}

TEST(MemberSnapshot, FlushWritesWhatIsPendingAtOnce) {
  TempDir dir;
  const fs::path file = dir / "mesh.members";
  FakeClock clock;
  MemberSnapshot snap(file, clock, 1s);
  snap.load();
  snap.changed();
  snap.poll([] { return std::vector<std::string>{"10.0.0.2:7946"}; });
  snap.changed();
  snap.poll([] { return std::vector<std::string>{"10.0.0.3:7946"}; });  // too soon
  EXPECT_EQ(*readMemberSnapshot(file), std::vector<std::string>{"10.0.0.2:7946"});
  snap.flush([] { return std::vector<std::string>{"10.0.0.3:7946"}; });
  EXPECT_EQ(*readMemberSnapshot(file), std::vector<std::string>{"10.0.0.3:7946"});
}

TEST(MemberSnapshot, AFailedWriteIsRetriedAndWarnedOnce) {
  TempDir dir;
  const fs::path sub = dir / "state";
  FakeClock clock;
  MemberSnapshot snap(sub / "mesh.members", clock, 1s);
  snap.load();
  CapturedLog log;
  for (int i = 0; i < 3; ++i) {
    snap.changed();
    snap.poll([] { return std::vector<std::string>{"10.0.0.2:7946"}; });
    clock.advance(1s);
  }
  EXPECT_EQ(snap.writes(), 0u);
  const std::string text = log.text();
  EXPECT_NE(text.find("not saved"), std::string::npos) << text;
  EXPECT_EQ(text.find("not saved"), text.rfind("not saved")) << text;
  fs::create_directories(sub);
  snap.poll([] { return std::vector<std::string>{"10.0.0.2:7946"}; });  // still pending: retried
  EXPECT_EQ(snap.writes(), 1u);
  EXPECT_EQ(*readMemberSnapshot(sub / "mesh.members"), std::vector<std::string>{"10.0.0.2:7946"});
}
