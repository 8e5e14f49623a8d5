// The supervisor with the real llama-server and the demo model: start, serve, crash, hang,
// stop, and die without leaving children behind.
#include <gtest/gtest.h>
#include <signal.h>

#include <future>

#include "tests/integration/node_fixture.h"
#include "tests/support/http_client.h"

namespace qmesh::test {
namespace {

using namespace std::chrono_literals;

class SupervisorLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveRealLlamaServer())
      GTEST_FAIL() << "llama-server or the demo model is missing (" << llamaServerBinary()
                   << ", " << demoModel() << "): run scripts/setup.sh";
  }

  static NodeYaml oneDemoModel() {
    NodeYaml y;
    y.supervisor = fastSupervisorSettings();
    y.models = demoModelEntry("demo");
    return y;
  }

  static int pidOf(const RunningNode& node, const std::string& model) {
    auto m = node.model(model);
    return m && !(*m)["pid"].is_null() ? (*m)["pid"].get<int>() : -1;
  }
};

TEST_F(SupervisorLifecycle, StartsDemoModelAndItStreamsAChatCompletion) {
  RunningNode node(oneDemoModel());
  ASSERT_TRUE(node.waitForState("demo", "ready", 60s)) << node.log();
  const auto m = *node.model("demo");
  EXPECT_EQ(m["gguf"]["architecture"], "llama");
  const int port = m["port"].get<int>();

  int events = 0;
  bool done = false;
  std::string pending;
  const auto r = httpPostStream(
      "http://127.0.0.1:" + std::to_string(port) + "/v1/chat/completions",
      R"({"model":"demo","stream":true,"max_tokens":16,"messages":[{"role":"user","content":"hi"}]})",
      [&](const std::string& chunk) {
        pending += chunk;
        for (size_t nl; (nl = pending.find("\n\n")) != std::string::npos; pending.erase(0, nl + 2)) {
          const std::string ev = pending.substr(0, nl);
          if (ev == "data: [DONE]") done = true;
          else if (ev.rfind("data: ", 0) == 0) ++events;
        }
        return true;
      });
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type").substr(0, 17) : "",
            "text/event-stream");
  EXPECT_GE(events, 2) << r.body;
  EXPECT_TRUE(done) << r.body;
}

// Issue 12: streams only move between workers of the same model file, known by its sha256.
TEST_F(SupervisorLifecycle, ReportsTheSha256OfEachModelFileInStatus) {
  RunningNode node(oneDemoModel());
  const auto sum = runCommand({"/usr/bin/sha256sum", demoModel().string()}, 30s);
  ASSERT_EQ(sum.exit_code, 0) << sum.output;
  const std::string want = sum.output.substr(0, 64);
  const bool reported = waitUntil(
      [&] {
        auto m = node.model("demo");
        return m && m->contains("digest");
      },
      30s, 50ms);
  ASSERT_TRUE(reported) << node.log();
  EXPECT_EQ((*node.model("demo"))["digest"], want);
}

TEST_F(SupervisorLifecycle, RestartsAChildKilledWithSigkill) {
  RunningNode node(oneDemoModel());
  ASSERT_TRUE(node.waitForState("demo", "ready", 60s)) << node.log();
  const int first = pidOf(node, "demo");
  ASSERT_GT(first, 0);
  ::kill(first, SIGKILL);
  ASSERT_TRUE(node.waitForState("demo", "ready", 30s, first)) << node.log();
  const auto m = *node.model("demo");
  EXPECT_EQ(m["restarts"], 1);
  EXPECT_NE(m["last_exit"].get<std::string>().find("signal 9"), std::string::npos) << m.dump();
  EXPECT_FALSE(processExists(first));
}

TEST_F(SupervisorLifecycle, ReplacesAHungChildStoppedWithSigstop) {
  RunningNode node(oneDemoModel());
  ASSERT_TRUE(node.waitForState("demo", "ready", 60s)) << node.log();
  const int first = pidOf(node, "demo");
  ::kill(first, SIGSTOP);
  // interval 200ms, timeout 300ms, threshold 2: hung within ~1 s, then TERM (+CONT), then KILL.
  ASSERT_TRUE(node.waitForState("demo", "ready", 30s, first)) << node.log();
  const auto m = *node.model("demo");
  EXPECT_NE(m["last_exit"].get<std::string>().find("hung"), std::string::npos) << m.dump();
  EXPECT_TRUE(waitUntil([&] { return !processExists(first); }, 5s));
}

TEST_F(SupervisorLifecycle, SigtermStopsEveryChildWithinTheGracePeriod) {
  NodeYaml y = oneDemoModel();
  y.models += demoModelEntry("demo-two");
  RunningNode node(y);
  ASSERT_TRUE(node.waitForState("demo", "ready", 60s)) << node.log();
  ASSERT_TRUE(node.waitForState("demo-two", "ready", 60s)) << node.log();
  const int a = pidOf(node, "demo"), b = pidOf(node, "demo-two");
  EXPECT_NE(a, b);
  EXPECT_EQ(childrenOf(node.process().pid()).size(), 2u);
  node.process().signal(SIGTERM);
  ASSERT_TRUE(node.process().waitExit(4s)) << "supervisor still running 4 s after SIGTERM";
  EXPECT_EQ(node.process().exitCode(), 0) << node.log();
  EXPECT_FALSE(processExists(a));
  EXPECT_FALSE(processExists(b));
}

TEST_F(SupervisorLifecycle, SigkillOfTheSupervisorLeavesNoOrphans) {
  RunningNode node(oneDemoModel());
  ASSERT_TRUE(node.waitForState("demo", "ready", 60s)) << node.log();
  const int child = pidOf(node, "demo");
  node.process().signal(SIGKILL);
  ASSERT_TRUE(node.process().waitExit(5s));
  EXPECT_TRUE(waitUntil([&] { return !processExists(child); }, 5s))
      << "llama-server " << child << " outlived its SIGKILLed supervisor";
}

TEST_F(SupervisorLifecycle, StopCommandStopsTheNodeAndStatusThenReportsNotRunning) {
  RunningNode node(oneDemoModel());
  ASSERT_TRUE(node.waitForState("demo", "ready", 60s)) << node.log();
  const int child = pidOf(node, "demo");
  const auto status = runCommand({supervisorBinary().string(), "status", "--config",
                                  node.configFile().string()}, 10s);
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.output.find("demo  ready"), std::string::npos) << status.output;
  const auto stop = runCommand({supervisorBinary().string(), "stop", "--config",
                                node.configFile().string()}, 20s);
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  ASSERT_TRUE(node.process().waitExit(5s));
  EXPECT_EQ(node.process().exitCode(), 0);
  EXPECT_FALSE(processExists(child));
  const auto after = runCommand({supervisorBinary().string(), "status", "--config",
                                 node.configFile().string()}, 10s);
  EXPECT_EQ(after.exit_code, 5) << after.output;
  EXPECT_NE(after.output.find("no qmesh-supervisor answers"), std::string::npos) << after.output;
}

TEST_F(SupervisorLifecycle, ReportsMetricsInPrometheusText) {
  RunningNode node(oneDemoModel());
  ASSERT_TRUE(node.waitForState("demo", "ready", 60s)) << node.log();
  const auto r = httpGet("http://127.0.0.1:" + std::to_string(node.controlPort()) + "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("qmesh_supervisor_child_restarts_total{child=\"demo\",kind=\"model\"} 0"),
            std::string::npos) << r.body;
  EXPECT_NE(r.body.find("qmesh_supervisor_child_state{child=\"demo\",state=\"ready\"} 1"),
            std::string::npos) << r.body;
  EXPECT_NE(r.body.find("qmesh_supervisor_health_poll_latency_ms_count{child=\"demo\"}"),
            std::string::npos) << r.body;
}

TEST_F(SupervisorLifecycle, LongPolledStatusAnswersAsSoonAsAChildChanges) {
  RunningNode node(oneDemoModel());
  ASSERT_TRUE(node.waitForState("demo", "ready", 60s)) << node.log();
  const std::string base = "http://127.0.0.1:" + std::to_string(node.controlPort());
  const auto parkedPolls = [&](int n) {
    const std::string line = "\nqmesh_supervisor_status_long_polls " + std::to_string(n) + "\n";
    return httpGet(base + "/metrics").body.find(line) != std::string::npos;
  };
  ASSERT_TRUE(parkedPolls(0)) << httpGet(base + "/metrics").body;  // no router in this node
  const uint64_t gen = (*node.status())["generation"];
  const int pid = pidOf(node, "demo");

  auto poll = std::async(std::launch::async, [&] {
    return httpGet(base + "/status?after=" + std::to_string(gen), 30s);
  });
  // The poll must be parked before the change: a poll that arrives after it answers at once
  // and would prove nothing about waking.
  ASSERT_TRUE(waitUntil([&] { return parkedPolls(1); }, 10s)) << "the long-poll never parked";
  ASSERT_EQ(poll.wait_for(0s), std::future_status::timeout) << "answered with nothing changed";

  ::kill(pid, SIGKILL);
  // Well under the 25 s a parked poll waits when nothing wakes it.
  ASSERT_EQ(poll.wait_for(10s), std::future_status::ready)
      << "the long-poll did not wake on the change";
  const auto r = poll.get();
  ASSERT_EQ(r.status, 200) << r.error;
  const auto status = nlohmann::json::parse(r.body);
  EXPECT_GT(status["generation"].get<uint64_t>(), gen);
  ASSERT_EQ(status["models"].size(), 1u) << r.body;
  EXPECT_NE(status["models"][0]["pid"], nlohmann::json(pid))
      << "the answer does not show the crash: " << r.body;
  EXPECT_TRUE(parkedPolls(0));
}

}  // namespace
}  // namespace qmesh::test
