// `qmesh-supervisor pull` and `start` with a URL model, as an operator runs them: exit codes,
// messages, where the file lands, and that `start` downloads before it spawns anything.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "supervisor/exit_codes.h"
#include "supervisor/model_pull.h"
#include "tests/models/test_file_server.h"
#include "tests/models/test_gguf.h"
#include "tests/support/test_env.h"
#include "tests/support/test_process.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::TestFileServer;


test::CommandResult supervisor(std::vector<std::string> args) {
  args.insert(args.begin(), test::supervisorBinary().string());
  return test::runCommand(std::move(args), 60s);
}

std::string pullReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ModelPullExitCodeTest, EachFailureHasItsDocumentedExitCode) {
  EXPECT_EQ(exitCodeFor(FetchFailure::None), 0);
  EXPECT_EQ(exitCodeFor(FetchFailure::HttpStatus), 8);
  EXPECT_EQ(exitCodeFor(FetchFailure::Connection), 9);
  EXPECT_EQ(exitCodeFor(FetchFailure::Stalled), 10);
  EXPECT_EQ(exitCodeFor(FetchFailure::DigestMismatch), 11);
  EXPECT_EQ(exitCodeFor(FetchFailure::NoSpace), 12);
  EXPECT_EQ(exitCodeFor(FetchFailure::NotGguf), 3);
}

class ModelPullCliTest : public ::testing::Test {
 protected:
  fs::path config(const std::string& url, const std::string& digest, const std::string& router = "false") {
    std::ostringstream y;
    y << "node:\n  name: pull-test\n  data_dir: " << (dir_ / "data").string() << "\n  control: 127.0.0.1:"
      << test::freeLoopbackPort() << "\nrouter:\n  enabled: " << router
      << "\nmodels:\n  - name: m\n    gguf: " << url << "\n    sha256: " << digest
      << "\n    threads: 1\n    ctx_size: 256\n    parallel: 1\n";
    return dir_.write("node.yaml", y.str());
  }
  fs::path downloaded(const std::string& digest) { return dir_ / "data" / "models" / ("sha256-" + digest + ".gguf"); }

  test::TempDir dir_;
};

TEST_F(ModelPullCliTest, PullDownloadsOnceAndCheckConfigThenSeesTheFile) {
  const std::string body = test::makeTestGguf(256 << 10);
  const std::string digest = test::sha256Hex(body);
  TestFileServer server(body);
  const fs::path cfg = config(server.url(), digest);

  auto check = supervisor({"check-config", cfg.string()});
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("model m: " + server.url() + ", not downloaded yet"), std::string::npos) << check.output;

  auto r = supervisor({"pull", "--config", cfg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(pullReadFile(downloaded(digest)), body);
  EXPECT_NE(r.output.find("models: m: sha256 " + digest + " verified"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("256.1 KiB of 256.1 KiB (100%)"), std::string::npos) << r.output;

  r = supervisor({"pull", "--config", cfg.string(), "m"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("models: m: already downloaded"), std::string::npos) << r.output;
  EXPECT_EQ(server.ranges().size(), 1u);  // the second pull asked the server nothing

  check = supervisor({"check-config", cfg.string()});
  EXPECT_NE(check.output.find("model m: " + downloaded(digest).string() + " (llama"), std::string::npos) << check.output;
}

TEST_F(ModelPullCliTest, PullOfAMissingFileExits8AndOfAWrongDigestExits11) {
  const std::string body = test::makeTestGguf(64 << 10);
  TestFileServer server(body);
  server.setMode(TestFileServer::Mode::NotFound);
  auto r = supervisor({"pull", "--config", config(server.url(), test::sha256Hex(body)).string()});
  EXPECT_EQ(r.exit_code, exit_code::kDownloadHttp) << r.output;
  EXPECT_NE(r.output.find("HTTP 404: no such file on the server"), std::string::npos) << r.output;

  server.setMode(TestFileServer::Mode::Serve);
  r = supervisor({"pull", "--config", config(server.url(), std::string(64, '0')).string()});
  EXPECT_EQ(r.exit_code, exit_code::kDownloadDigest) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "data" / "models" / ("sha256-" + std::string(64, '0') + ".gguf.partial")));
}

TEST_F(ModelPullCliTest, PullOfAnUnknownModelIsAUsageError) {
  auto r = supervisor({"pull", "--config", config("https://h/m.gguf", std::string(64, '0')).string(), "nope"});
  EXPECT_EQ(r.exit_code, exit_code::kConfig) << r.output;
  EXPECT_NE(r.output.find("no model named 'nope'"), std::string::npos) << r.output;
}

TEST_F(ModelPullCliTest, StartDownloadsBeforeSpawningAndFailsWithTheDownloadsExitCode) {
  const std::string body = test::makeTestGguf(64 << 10);
  TestFileServer server(body);
  server.setMode(TestFileServer::Mode::NotFound);
  auto r = supervisor({"start", "--config", config(server.url(), test::sha256Hex(body)).string()});
  EXPECT_EQ(r.exit_code, exit_code::kDownloadHttp) << r.output;
  EXPECT_EQ(r.output.find("spawned"), std::string::npos) << r.output;
}

// The real thing: the demo model served over HTTP, `start` fetches it, llama-server loads it.
TEST_F(ModelPullCliTest, StartFetchesTheDemoModelThenServesIt) {
  if (!test::haveRealLlamaServer()) GTEST_SKIP() << "needs the packaged llama-server and demo model";
  const std::string body = pullReadFile(test::demoModel());
  const std::string digest = test::sha256Hex(body);
  TestFileServer server(body);
  test::TestProcess node({test::supervisorBinary().string(), "start", "--config", config(server.url(), digest).string()},
                         dir_ / "node.log");
  EXPECT_TRUE(node.waitForOutput("[m] ready", 120s)) << node.output();
  const std::string out = node.output();
  const auto verified = out.find("models: m: sha256 " + digest + " verified");
  ASSERT_NE(verified, std::string::npos) << out;
  EXPECT_LT(verified, out.find("[m] spawned")) << out;
  EXPECT_EQ(pullReadFile(downloaded(digest)), body);
  node.signal(SIGTERM);
  ASSERT_TRUE(node.waitExit(30s).has_value());
  EXPECT_EQ(node.exitCode(), 0) << node.output();
}

}  // namespace
}  // namespace qmesh
