// Issue 10, part 2, end to end: qmesh-supervisor with its router and the real llama-server
// on the demo model. A request for an unloaded model loads it (once, whatever the number of
// requests) and is served; idle_unload ends the process; two models under a memory budget
// for one take turns without a failed request, an unload under a request, or a queue served
// out of order.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/integration/node_fixture.h"
#include "tests/support/http_client.h"

namespace qmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using WallClock = std::chrono::steady_clock;

double secondsBetween(WallClock::time_point a, WallClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Two demo models "a" and "b", loaded on demand, one slot each.
class OnDemandNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveRealLlamaServer()) GTEST_SKIP() << "needs the packaged llama-server and demo model";
  }
  void start(const std::string& modelExtra, const std::string& nodeExtra = "") {
    NodeYaml y;
    y.router = true;
    y.router_port = freeLoopbackPort();
    y.supervisor = fastSupervisorSettings();
    y.node_extra = nodeExtra;
    for (const char* n : {"a", "b"}) y.models += demoModelEntry(n, 1, false, 256) + "    load: on_demand\n" + modelExtra;
    router_ = "http://127.0.0.1:" + std::to_string(y.router_port);
    node_ = std::make_unique<RunningNode>(y);
    ASSERT_TRUE(waitUntil([&] { return modelState("b") == "unloaded"; }, 60s)) << node_->log();
  }
  // qmesh.state of the model in the router's /v1/models ("" when not listed).
  std::string modelState(const std::string& name) {
    const auto j = json::parse(httpGet(router_ + "/v1/models", 2s).body, nullptr, false);
    if (!j.is_object() || !j.contains("data")) return "";
    for (const auto& m : j["data"])
      if (m.value("id", "") == name) return m["qmesh"].value("state", "");
    return "";
  }
  static std::string chat(const std::string& model, int maxTokens, bool stream) {
    return json{{"model", model},
                {"messages", json::array({json{{"role", "user"}, {"content", "hello"}}})},
                {"max_tokens", maxTokens},
                {"stream", stream}}
        .dump();
  }
  struct Timed {
    HttpResponse res;
    WallClock::time_point firstByte{}, end{};
  };
  Timed stream(const std::string& model, int maxTokens) {
    Timed t;
    t.res = httpPostStream(router_ + "/v1/chat/completions", chat(model, maxTokens, true), [&t](const std::string&) {
      if (t.firstByte == WallClock::time_point{}) t.firstByte = WallClock::now();
      return true;
    });
    t.end = WallClock::now();
    return t;
  }
  // Queued plus in flight, as the router's /api/status says.
  int requestsHeldFor(const std::string& model) {
    const auto s = json::parse(httpGet(router_ + "/api/status", 2s).body, nullptr, false);
    if (!s.is_object()) return 0;
    for (const auto& mm : s["models"]) {
      if (mm.value("name", "") != model) continue;
      int n = mm.value("queued", 0);
      for (const auto& w : mm["workers"]) n += w.value("outstanding", 0);
      return n;
    }
    return 0;
  }
  static int finishedCount(const std::vector<int>& finished, std::mutex& m) {
    std::lock_guard lock(m);
    return static_cast<int>(finished.size());
  }
  int countInLog(const std::string& needle) {
    const std::string log = node_->log();
    int n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  }

  std::string router_;
  std::unique_ptr<RunningNode> node_;
};

TEST_F(OnDemandNodeTest, ColdRequestLoadsTheModelOnceAndIsServed) {
  start("");
  EXPECT_EQ(node_->model("a")->value("state", ""), "unloaded");
  const auto t0 = WallClock::now();
  std::vector<Timed> results(3);
  std::vector<std::thread> clients;
  for (auto& r : results) clients.emplace_back([&] { r = stream("a", 8); });
  for (auto& c : clients) c.join();
  for (const auto& r : results) {
    ASSERT_EQ(r.res.status, 200) << r.res.body << node_->log();
    EXPECT_NE(r.res.body.find("data: [DONE]"), std::string::npos) << r.res.body;
  }
  std::cout << "[ figure ] cold start of the demo model, request -> first byte: "
            << secondsBetween(t0, results[0].firstByte) << " s\n";
  EXPECT_EQ(countInLog("[a] loading on request"), 1) << "one load for three concurrent requests\n" << node_->log();
  EXPECT_EQ(node_->model("a")->value("state", ""), "ready");
  EXPECT_EQ(node_->model("b")->value("state", ""), "unloaded");
}

TEST_F(OnDemandNodeTest, IdleUnloadEndsTheProcessAndTheNextRequestLoadsItAgain) {
  start("    idle_unload: 2s\n");
  const Timed first = stream("a", 4);
  ASSERT_EQ(first.res.status, 200) << first.res.body;
  const int pid = (*node_->model("a"))["pid"].get<int>();
  ASSERT_TRUE(waitUntil([&] { return !processExists(pid); }, 20s)) << "pid " << pid << " still runs";
  const double idleFor = secondsBetween(first.end, WallClock::now());
  EXPECT_GE(idleFor, 2.0) << "unloaded before idle_unload";
  std::cout << "[ figure ] idle_unload 2s: last byte -> process gone: " << idleFor << " s\n";
  EXPECT_TRUE(node_->waitForState("a", "unloaded", 5s));
  EXPECT_TRUE((*node_->model("a"))["pid"].is_null());
  EXPECT_EQ(modelState("a"), "unloaded");

  const Timed again = stream("a", 4);
  EXPECT_EQ(again.res.status, 200) << again.res.body;
  EXPECT_EQ(countInLog("[a] loading on request"), 2);
}

// node.memory_budget holds one demo model (about 18 MiB), not two.
TEST_F(OnDemandNodeTest, TwoModelsUnderABudgetForOneTakeTurnsWithoutAFailure) {
  start("", "  memory_budget: 30MiB\n");
  // A stream to a is in flight when b is asked for: b waits until it has ended.
  ASSERT_EQ(stream("a", 4).res.status, 200);
  Timed longA, swapB;
  std::atomic<bool> aStarted{false};
  std::thread ta([&] {
    longA.res = httpPostStream(router_ + "/v1/chat/completions", chat("a", 200, true), [&](const std::string&) {
      aStarted = true;
      return true;
    });
    longA.end = WallClock::now();
  });
  ASSERT_TRUE(waitUntil([&] { return aStarted.load(); }, 30s));
  const auto askedB = WallClock::now();
  swapB = stream("b", 4);
  ta.join();
  ASSERT_EQ(longA.res.status, 200) << longA.res.body;
  EXPECT_NE(longA.res.body.find("data: [DONE]"), std::string::npos) << "a's stream was cut:\n" << longA.res.body;
  ASSERT_EQ(swapB.res.status, 200) << swapB.res.body;
  EXPECT_GE(swapB.firstByte, longA.end) << "b was served while a's request was in flight";

  // a idle, b asked for: the swap itself.
  ASSERT_TRUE(node_->waitForState("b", "ready", 10s));
  const auto swapAsked = WallClock::now();
  const Timed swapped = stream("a", 4);
  ASSERT_EQ(swapped.res.status, 200) << swapped.res.body;
  std::cout << "[ figure ] swap b -> a under a one-model budget, request -> first byte: "
            << secondsBetween(swapAsked, swapped.firstByte) << " s (behind a 200-token stream: "
            << secondsBetween(askedB, swapB.firstByte) << " s)\n";

  // Concurrent requests to both, a few rounds each: every one is served.
  std::vector<long> statuses;
  std::mutex m;
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i)
    clients.emplace_back([&, i] {
      for (int round = 0; round < 3; ++round) {
        auto r = httpPostJson(router_ + "/v1/chat/completions", chat(i % 2 ? "a" : "b", 4, false));
        std::lock_guard lock(m);
        statuses.push_back(r.status);
        if (r.status != 200) ADD_FAILURE() << r.status << " " << r.body;
      }
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(statuses.size(), 12u);
  EXPECT_GE(countInLog("[a] loading on request") + countInLog("[b] loading on request"), 4) << "no swap happened";
}

TEST_F(OnDemandNodeTest, RequestsQueuedForALoadAreServedInTheirOrder) {
  start("");
  std::vector<int> finished;
  std::mutex m;
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      auto r = httpPostJson(router_ + "/v1/chat/completions", chat("a", 16, false));
      std::lock_guard lock(m);
      EXPECT_EQ(r.status, 200) << r.body;
      finished.push_back(i);
    });
    // Each is in the router (queued, or holding the one slot) before the next is sent.
    ASSERT_TRUE(waitUntil([&] { return requestsHeldFor("a") + finishedCount(finished, m) >= i + 1; }, 10s));
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(finished, (std::vector<int>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace qmesh::test
