// fetchModel (supervisor/model_fetch.h) against a local HTTP server serving a generated
// GGUF: complete, interrupted then resumed, a server that ignores Range, wrong digest, 404,
// a stalling server, TLS against a plain server, a refused connection, no space, file://.
#include "supervisor/model_fetch.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/models/test_file_server.h"
#include "tests/models/test_gguf.h"
#include "tests/support/test_env.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;
using test::TestFileServer;
using Mode = TestFileServer::Mode;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message: " << text << "\nlacks:   " << part;
}

class ModelFetchTest : public ::testing::Test {
 protected:
  FetchResult fetch(const std::string& url, const std::string& digest) {
    return fetchModel(url, digest, dest_, options_);
  }
  const std::string body_ = test::makeTestGguf(1 << 20);
  const std::string digest_ = test::sha256Hex(body_);
  TestFileServer server_{body_};
  test::TempDir dir_;
  const fs::path dest_ = dir_ / "models" / "m.gguf";
  FetchOptions options_ = [] {
    FetchOptions o;
    o.stall_timeout = std::chrono::seconds(1);
    o.connect_timeout = std::chrono::seconds(5);
    return o;
  }();
};

TEST_F(ModelFetchTest, DownloadsVerifiesAndRenamesIntoPlace) {
  std::vector<DownloadProgress> seen;
  options_.on_progress = [&](const DownloadProgress& p) { seen.push_back(p); };
  const FetchResult r = fetch(server_.url(), digest_);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.bytes, body_.size());
  EXPECT_EQ(readFile(dest_), body_);
  EXPECT_FALSE(fs::exists(partialPathFor(dest_)));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().done, body_.size());
  EXPECT_EQ(seen.back().total, body_.size());
}

TEST_F(ModelFetchTest, InterruptedTransferKeepsPartialAndResumesWithRange) {
  server_.setMode(Mode::CutAfter, 300000);
  const FetchResult cut = fetch(server_.url(), digest_);
  ASSERT_EQ(cut.failure, FetchFailure::Connection) << cut.message;
  EXPECT_TRUE(contains(cut.message, "run it again to resume"));
  EXPECT_FALSE(fs::exists(dest_));
  ASSERT_EQ(fs::file_size(partialPathFor(dest_)), 300000u);

  server_.setMode(Mode::Serve);
  const size_t sentBefore = server_.bodyBytesSent();
  const FetchResult r = fetch(server_.url(), digest_);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.resumed_from, 300000u);
  EXPECT_EQ(server_.ranges().back(), "300000-");
  EXPECT_EQ(server_.bodyBytesSent() - sentBefore, body_.size() - 300000);  // only the rest
  EXPECT_EQ(readFile(dest_), body_);
  EXPECT_FALSE(fs::exists(partialPathFor(dest_)));
}

TEST_F(ModelFetchTest, ServerIgnoringRangeStartsOverAndStillVerifies) {
  server_.setMode(Mode::CutAfter, 200000);
  ASSERT_FALSE(fetch(server_.url(), digest_).ok());
  ASSERT_TRUE(fs::exists(partialPathFor(dest_)));
  server_.setMode(Mode::IgnoreRange);
  const FetchResult r = fetch(server_.url(), digest_);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(readFile(dest_), body_);
}

// A fetch that wrote every byte but died before the rename: the server answers 416 to the
// Range past its end, and the kept file is judged whole; a kept file of the right length but
// wrong bytes is fetched again from the start.
TEST_F(ModelFetchTest, PartialAsLongAsTheFileIsVerifiedOrFetchedAgain) {
  fs::create_directories(dest_.parent_path());
  std::ofstream(partialPathFor(dest_), std::ios::binary) << body_;
  FetchResult r = fetch(server_.url(), digest_);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(server_.bodyBytesSent(), 0u);

  fs::remove(dest_);
  std::string corrupt = body_;
  corrupt[corrupt.size() / 2] ^= 1;
  std::ofstream(partialPathFor(dest_), std::ios::binary) << corrupt;
  r = fetch(server_.url(), digest_);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(server_.bodyBytesSent(), body_.size());
  EXPECT_EQ(readFile(dest_), body_);
}

TEST_F(ModelFetchTest, WrongDigestDeletesThePartialAndNamesBothDigests) {
  const std::string wrong(64, 'a');
  const FetchResult r = fetch(server_.url(), wrong);
  EXPECT_EQ(r.failure, FetchFailure::DigestMismatch);
  EXPECT_TRUE(contains(r.message, "have sha256 " + digest_ + ", not the pinned " + wrong + ": deleted"));
  EXPECT_FALSE(fs::exists(dest_));
  EXPECT_FALSE(fs::exists(partialPathFor(dest_)));
}

TEST_F(ModelFetchTest, PinnedDigestOfAFileThatIsNoGgufIsRefusedAndDeleted) {
  TestFileServer html{"<!DOCTYPE html><html>login</html>"};
  const FetchResult r = fetch(html.url(), test::sha256Hex("<!DOCTYPE html><html>login</html>"));
  EXPECT_EQ(r.failure, FetchFailure::NotGguf);
  EXPECT_TRUE(contains(r.message, "no usable GGUF"));
  EXPECT_FALSE(fs::exists(dest_));
  EXPECT_FALSE(fs::exists(partialPathFor(dest_)));
}

TEST_F(ModelFetchTest, NotFoundIsAnHttpStatusFailureAndLeavesNoFile) {
  server_.setMode(Mode::NotFound);
  const FetchResult r = fetch(server_.url(), digest_);
  EXPECT_EQ(r.failure, FetchFailure::HttpStatus);
  EXPECT_TRUE(contains(r.message, server_.url() + ": HTTP 404: no such file on the server: check the URL"));
  EXPECT_FALSE(fs::exists(dest_));
  EXPECT_FALSE(fs::exists(partialPathFor(dest_)));
}

TEST_F(ModelFetchTest, StallingServerTimesOutAndKeepsWhatArrived) {
  server_.setMode(Mode::StallAfter, 100000);
  const auto t0 = std::chrono::steady_clock::now();
  const FetchResult r = fetch(server_.url(), digest_);
  EXPECT_EQ(r.failure, FetchFailure::Stalled) << r.message;
  EXPECT_TRUE(contains(r.message, "the server sent nothing for 1s (stalled)"));
  // curl judges the speed over its last 5 s, so a stall is seen 5 s + stall_timeout after
  // the last burst; 20 s leaves room on a loaded machine and still catches a hang.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_EQ(fs::file_size(partialPathFor(dest_)), 100000u);
}

TEST_F(ModelFetchTest, HttpsAgainstAPlainServerIsATlsFailure) {
  const FetchResult r = fetch("https://127.0.0.1:" + std::to_string(server_.port()) + "/model.gguf", digest_);
  EXPECT_EQ(r.failure, FetchFailure::Connection);
  EXPECT_TRUE(contains(r.message, "TLS failed"));
  EXPECT_FALSE(fs::exists(partialPathFor(dest_)));
}

TEST_F(ModelFetchTest, RefusedConnectionIsAConnectionFailure) {
  const uint16_t closed = test::freeLoopbackPort();
  const FetchResult r = fetch("http://127.0.0.1:" + std::to_string(closed) + "/m.gguf", digest_);
  EXPECT_EQ(r.failure, FetchFailure::Connection);
  EXPECT_TRUE(contains(r.message, "127.0.0.1"));
}

TEST_F(ModelFetchTest, RefusesBeforeWritingWhenTheDiskHasNoRoom) {
  options_.free_bytes = [&](const fs::path&) { return uint64_t(1000); };
  const FetchResult r = fetch(server_.url(), digest_);
  EXPECT_EQ(r.failure, FetchFailure::NoSpace);
  EXPECT_TRUE(contains(r.message, "needs 1.0 MiB more but only 1000 B is free"));
  EXPECT_FALSE(fs::exists(partialPathFor(dest_)));
}

TEST_F(ModelFetchTest, FileUrlIsCopiedAndVerified) {
  const fs::path src = dir_.write("src.gguf", body_);
  const FetchResult r = fetch("file://" + src.string(), digest_);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(readFile(dest_), body_);
  EXPECT_EQ(fetch("file://" + (dir_ / "absent.gguf").string(), digest_).failure, FetchFailure::HttpStatus);
}

}  // namespace
}  // namespace qmesh
