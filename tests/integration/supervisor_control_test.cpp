// The real qmesh-supervisor's control API against hostile requests and requests without
// the token: nothing a client sends ends the supervisor (and with it every llama-server),
// and only the holder of <data_dir>/control.token can change anything.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <csignal>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <future>

#include "tests/integration/node_fixture.h"
#include "tests/supervisor/raw_http.h"
#include "tests/support/http_client.h"

namespace qmesh::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::vector<pid_t> sorted(std::vector<pid_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(SupervisorControlApi, HostileRequestsLeaveTheSupervisorAndItsChildrenRunning) {
  if (!haveRealLlamaServer()) GTEST_SKIP() << "the packaged llama-server or the demo model is missing";
  NodeYaml y;
  y.supervisor = fastSupervisorSettings();
  y.models = demoModelEntry("demo");
  RunningNode node(y);
  ASSERT_TRUE(node.waitForState("demo", "ready", 90s)) << node.log();
  const pid_t supervisorPid = node.process().pid();
  const int llamaPid = (*node.model("demo"))["pid"].get<int>();
  const auto children = sorted(childrenOf(supervisorPid));
  ASSERT_FALSE(children.empty());

  const std::string close = "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
  const std::vector<std::string> requests = {
      "GET /\xff HTTP/1.1\r\n" + close,                    // the reported crash
      "GET /\xc0\xaf\xed\xa0\x80 HTTP/1.1\r\n" + close,    // overlong, surrogate
      "GET /status?after=\xfe\xff HTTP/1.1\r\n" + close,
      "POST /children/\xff/restart HTTP/1.1\r\nContent-Length: 0\r\n" + close,
      std::string("\xff\xfe\x00\x01 garbage\r\n\r\n", 15),   // not a request line
      "GET / HTTP/9.9\r\n\r\n",
      "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n" + close};
  for (const std::string& request : requests) {
    rawExchange(node.controlPort(), request);
    ASSERT_TRUE(node.process().running()) << "the supervisor died of: " << request.substr(0, 40)
                                          << "\n" << node.log();
  }
  const auto status = node.status();
  ASSERT_TRUE(status.has_value()) << "/status no longer answers\n" << node.log();
  EXPECT_EQ((*status)["pid"].get<int>(), supervisorPid);
  EXPECT_EQ((*node.model("demo"))["pid"].get<int>(), llamaPid) << "llama-server was restarted";
  EXPECT_EQ(sorted(childrenOf(supervisorPid)), children);
}

// A node without models or router: only the control API, enough to test who may change it.
struct BareNode {
  NodeYaml yaml;
  std::unique_ptr<RunningNode> node;
  BareNode() {
    yaml.models = "  []\n";
    node = std::make_unique<RunningNode>(yaml);
  }
  fs::path tokenFile() const { return node->configFile().parent_path() / "data" / "control.token"; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(node->controlPort()) + path;
  }
};

TEST(SupervisorControlApi, OnlyTheTokenInTheDataDirStopsOrRestarts) {
  BareNode n;
  ASSERT_TRUE(waitUntil([&] { return n.node->status().has_value(); }, 30s)) << n.node->log();
  struct stat st {};
  ASSERT_EQ(::stat(n.tokenFile().c_str(), &st), 0) << "no " << n.tokenFile();
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const auto anonymous = httpRequest("POST", n.url("/shutdown"), "", {}, 5s);
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  const auto fromAPage = httpRequest("GET", n.url("/status"), "", {{"Origin", "http://evil.example"}}, 5s);
  EXPECT_EQ(fromAPage.status, 403) << fromAPage.body;
  EXPECT_TRUE(n.node->process().running());

  // The CLI sends the token: the request gets through (404: no such child, not 401).
  const auto restart = runSupervisor({"restart", "--config", n.node->configFile().string(), "nope"});
  EXPECT_EQ(restart.exit_code, 2) << restart.output;
  EXPECT_TRUE(has(restart.output, "no model or child named 'nope'")) << restart.output;

  // A stale token (another start wrote it) is refused with the reason, and changes nothing.
  const std::string token = readFile(n.tokenFile());
  std::ofstream(n.tokenFile()) << std::string(64, '0') << "\n";
  const auto refused = runSupervisor({"stop", "--config", n.node->configFile().string()});
  EXPECT_EQ(refused.exit_code, 7) << refused.output;
  EXPECT_TRUE(has(refused.output, "wrong control token")) << refused.output;
  EXPECT_TRUE(n.node->process().running());

  std::ofstream(n.tokenFile()) << token;
  const auto stop = runSupervisor({"stop", "--config", n.node->configFile().string()});
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  ASSERT_TRUE(n.node->process().waitExit(30s));
  EXPECT_EQ(n.node->process().exitCode(), 0) << n.node->log();
  EXPECT_FALSE(fs::exists(n.tokenFile())) << "a stopped node leaves no token behind";
}

// `qmesh-supervisor drain`, the command (the drain tests elsewhere send SIGTERM): with a
// stream in flight through the node's router, it says it drains, and returns "stopped" with
// exit 0 only once the supervisor is gone; the stream ends whole, no llama-server is left,
// and a second drain finds nothing to drain (exit 5).
TEST(SupervisorControlApi, DrainCommandLetsTheStreamInFlightEndWholeThenStopsTheNode) {
  if (!haveRealLlamaServer()) GTEST_SKIP() << "the packaged llama-server or the demo model is missing";
  NodeYaml y;
  y.supervisor = fastSupervisorSettings();
  y.models = demoModelEntry("demo", /*parallel=*/1, /*embeddings=*/false, /*ctx=*/4096);
  y.router = true;
  y.router_port = freeLoopbackPort();
  RunningNode node(y);
  ASSERT_TRUE(node.waitForState("demo", "ready", 90s)) << node.log();
  const int llamaPid = (*node.model("demo"))["pid"].get<int>();
  const std::string router = "http://127.0.0.1:" + std::to_string(y.router_port);
  ASSERT_TRUE(waitUntil([&] { return httpGet(router + "/readyz", 2s).status == 200; }, 30s)) << node.log();

  std::atomic<bool> started{false}, ended{false};
  auto stream = std::async(std::launch::async, [&] {
    std::string body;
    auto res = httpPostStream(
        router + "/v1/chat/completions",
        R"({"model":"demo","stream":true,"max_tokens":2000,"messages":[{"role":"user","content":"Tell a long story"}]})",
        [&](const std::string& chunk) {
          body += chunk;
          started = true;
          if (has(body, "data: [DONE]")) ended = true;
          return true;
        },
        {}, 60s);
    res.body = body;
    return res;
  });
  ASSERT_TRUE(waitUntil([&] { return started.load(); }, 30s)) << node.log();
  ASSERT_FALSE(ended.load()) << "the stream ended before the drain: nothing in flight to test";
  const auto drain = runSupervisor({"drain", "--config", node.configFile().string()});
  EXPECT_EQ(drain.exit_code, 0) << drain.output << "\n" << node.log();
  EXPECT_TRUE(has(drain.output, "draining")) << drain.output;
  EXPECT_TRUE(has(drain.output, "stopped")) << drain.output;

  ASSERT_EQ(stream.wait_for(10s), std::future_status::ready);
  const auto res = stream.get();
  EXPECT_EQ(res.status, 200) << res.error;
  EXPECT_TRUE(has(res.body, "data: [DONE]")) << "the stream was cut: " << res.body.substr(res.body.size() > 300 ? res.body.size() - 300 : 0);
  ASSERT_TRUE(node.process().waitExit(30s)) << node.log();
  EXPECT_EQ(node.process().exitCode(), 0) << node.log();
  EXPECT_NE(::kill(llamaPid, 0), 0) << "llama-server " << llamaPid << " was left running";

  const auto again = runSupervisor({"drain", "--config", node.configFile().string()});
  EXPECT_EQ(again.exit_code, 5) << again.output;
  EXPECT_TRUE(has(again.output, "nothing to drain")) << again.output;
}

TEST(SupervisorControlApi, ChildLogServesTheLastLinesOfItsOutputAcrossRestarts) {
  if (!haveRealLlamaServer()) GTEST_SKIP() << "the packaged llama-server or the demo model is missing";
  NodeYaml y;
  y.supervisor = fastSupervisorSettings();
  y.models = demoModelEntry("demo");
  RunningNode node(y);
  ASSERT_TRUE(node.waitForState("demo", "ready", 90s)) << node.log();
  const int firstPid = (*node.model("demo"))["pid"].get<int>();
  const std::string url = "http://127.0.0.1:" + std::to_string(node.controlPort()) + "/children/demo/log";
  auto linesOf = [&] {
    const auto r = httpGet(url);
    EXPECT_EQ(r.status, 200) << r.body;
    return nlohmann::json::parse(r.body, nullptr, false)["lines"];
  };
  auto logHas = [&](const nlohmann::json& lines, const std::string& needle) {
    return std::any_of(lines.begin(), lines.end(), [&](const auto& l) { return has(l.template get<std::string>(), needle); });
  };
  const auto lines = linesOf();
  ASSERT_TRUE(lines.is_array());
  EXPECT_TRUE(logHas(lines, "--- qmesh: started pid " + std::to_string(firstPid) + " ---")) << lines.dump();
  // llama-server's own words, as the supervisor's log has them.
  EXPECT_TRUE(logHas(lines, "llama")) << lines.dump();
  EXPECT_LE(lines.size(), 200u);

  ::kill(firstPid, SIGKILL);
  ASSERT_TRUE(node.waitForState("demo", "ready", 90s, firstPid)) << node.log();
  const int secondPid = (*node.model("demo"))["pid"].get<int>();
  const auto after = linesOf();
  EXPECT_TRUE(logHas(after, "started pid " + std::to_string(firstPid))) << "the crashed run's lines are kept";
  EXPECT_TRUE(logHas(after, "started pid " + std::to_string(secondPid))) << after.dump();

  const auto unknown = httpGet("http://127.0.0.1:" + std::to_string(node.controlPort()) + "/children/nope/log");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
}

}  // namespace
}  // namespace qmesh::test
