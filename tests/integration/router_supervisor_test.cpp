// End to end through `qmesh-supervisor start`: the supervisor spawns llama-server and
// qmesh-router; the router learns the worker from the control API, serves OpenAI requests,
// stops routing to a killed worker at once and resumes when the supervisor restarted it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>

#include "tests/support/http_client.h"
#include "tests/support/test_env.h"
#include "tests/support/test_process.h"

using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

json getJson(const std::string& url) {
  auto r = httpGet(url, milliseconds(2000));
  return json::parse(r.body, nullptr, false);
}

int readyWorkers(const std::string& routerUrl) {
  auto j = getJson(routerUrl + "/v1/models");
  if (j.is_discarded() || !j.contains("data") || j["data"].empty()) return -1;
  return j["data"][0]["qmesh"]["ready_workers"].get<int>();
}

}  // namespace

TEST(RouterSupervisor, NodeStartedBySupervisorServesOpenAiAndFollowsWorkerRestarts) {
  if (!haveRealLlamaServer()) GTEST_SKIP() << "llama-server or the demo model is not built yet";
  if (!std::filesystem::exists(supervisorBinary())) GTEST_SKIP() << "qmesh-supervisor is not built";
  TempDir dir;
  const uint16_t control = freeLoopbackPort(), routerPort = freeLoopbackPort();
  const auto cfg = dir.write("node.yaml",
                             "node:\n  name: e2e\n  control: 127.0.0.1:" + std::to_string(control) +
                                 "\n  data_dir: " + (dir / "data").string() +
                                 "\nsupervisor:\n  stop_grace: 2s\n  health: {interval: 200ms, timeout: 1s}\n"
                                 // 4 s without a worker after the kill: long enough that a request
                                 // in between can only be refused (restarts are tested elsewhere).
                                 "  restart: {backoff_initial: 4s, jitter: 0}\n"
                                 "models:\n  - name: demo\n    gguf: builtin:demo\n    ctx_size: 1024\n    parallel: 2\n"
                                 "router:\n  listen: 127.0.0.1:" + std::to_string(routerPort) + "\n");
  TestProcess sup({supervisorBinary().string(), "start", "--config", cfg.string()}, dir / "supervisor.log");
  const std::string router = "http://127.0.0.1:" + std::to_string(routerPort);
  ASSERT_TRUE(waitUntil([&] { return readyWorkers(router) == 1; }, seconds(60), milliseconds(100)))
      << sup.output();

  int chunks = 0;
  auto streamed = httpPostStream(router + "/v1/chat/completions",
                                 R"({"model":"demo","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":12})",
                                 [&](const std::string&) { return ++chunks > 0; });
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_NE(streamed.headers["x-qmesh-route"].find("e2e/demo@127.0.0.1:"), std::string::npos);
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos);
  auto status = getJson(router + "/api/status");
  EXPECT_EQ(status["mode"], "supervised");
  EXPECT_EQ(status["supervisor"]["reachable"], true);

  // Kill the worker: the long poll tells the router within moments, and it answers 503
  // (not a hung or refused connection) until the supervisor has it ready again.
  const auto st = getJson("http://127.0.0.1:" + std::to_string(control) + "/status");
  const int workerPid = st["models"][0]["pid"].get<int>();
  ::kill(workerPid, SIGKILL);
  const auto killed = steady_clock::now();
  ASSERT_TRUE(waitUntil([&] { return readyWorkers(router) == 0; }, seconds(5), milliseconds(10)));
  EXPECT_LT(duration_cast<milliseconds>(steady_clock::now() - killed).count(), 2000);
  auto during = httpPostJson(router + "/v1/completions", R"({"model":"demo","prompt":"a","max_tokens":2})");
  EXPECT_EQ(during.status, 503) << during.body;
  EXPECT_NE(during.body.find(R"("code":"no_ready_worker")"), std::string::npos) << during.body;
  ASSERT_TRUE(waitUntil([&] { return readyWorkers(router) == 1; }, seconds(60), milliseconds(100))) << sup.output();
  auto after = httpPostJson(router + "/v1/completions", R"({"model":"demo","prompt":"a","max_tokens":2})");
  EXPECT_EQ(after.status, 200) << after.body;

  sup.signal(SIGTERM);
  ASSERT_TRUE(sup.waitExit(seconds(15)));
  EXPECT_EQ(sup.exitCode(), 0) << sup.output();
  EXPECT_NE(httpGet(router + "/health", milliseconds(500)).status, 200) << "router outlived its supervisor";
}

// router.listen on one address (here 127.0.0.2, which 127.0.0.1 does not reach): the
// supervisor polls the router's /health there, so the router becomes ready instead of being
// restarted for never answering on 127.0.0.1.
TEST(RouterSupervisor, RouterListeningOnOneAddressIsHealthPolledThere) {
  if (!haveRealLlamaServer()) GTEST_SKIP() << "llama-server or the demo model is not built yet";
  if (!std::filesystem::exists(supervisorBinary())) GTEST_SKIP() << "qmesh-supervisor is not built";
  TempDir dir;
  const uint16_t control = freeLoopbackPort(), routerPort = freeLoopbackPort();
  const auto cfg = dir.write("node.yaml",
                             "node:\n  name: one-ip\n  control: 127.0.0.1:" + std::to_string(control) +
                                 "\n  data_dir: " + (dir / "data").string() +
                                 "\nsupervisor:\n  stop_grace: 2s\n  health: {interval: 200ms, timeout: 1s}\n"
                                 "models:\n  - name: demo\n    gguf: builtin:demo\n    ctx_size: 512\n    parallel: 1\n"
                                 "router:\n  listen: 127.0.0.2:" + std::to_string(routerPort) + "\n");
  TestProcess sup({supervisorBinary().string(), "start", "--config", cfg.string()}, dir / "supervisor.log");
  const std::string statusUrl = "http://127.0.0.1:" + std::to_string(control) + "/status";
  const auto routerState = [&] {
    const auto st = getJson(statusUrl);
    return st.is_object() && st["router"].is_object() ? st["router"].value("state", "") : std::string();
  };
  ASSERT_TRUE(waitUntil([&] { return routerState() == "ready"; }, seconds(30), milliseconds(100)))
      << "router state: " << routerState() << "\n" << sup.output();
  const auto st = getJson(statusUrl);
  EXPECT_EQ(st["router"]["restarts"], 0) << st.dump();
  EXPECT_TRUE(waitUntil([&] { return readyWorkers("http://127.0.0.2:" + std::to_string(routerPort)) == 1; },
                        seconds(30), milliseconds(100)));
  sup.signal(SIGTERM);
  ASSERT_TRUE(sup.waitExit(seconds(15)));
}

// Issue 12: a node with `replicas: 2` of the demo model, and the official SDK's stream from
// tests/integration/node/stream_survives_client.mjs in `mode` against the replica serving it;
// returns the script's result and the router's /metrics after it.
namespace {
struct ReplicaRun {
  CommandResult script;
  std::string metrics;
  std::string log;
};
ReplicaRun streamPastAReplica(const std::string& mode, const std::string& health, const std::string& routerYaml) {
  const auto nodeDir = sourceDir() / "tests" / "integration" / "node";
  TempDir dir;
  const uint16_t control = freeLoopbackPort(), routerPort = freeLoopbackPort();
  const auto cfg = dir.write("node.yaml",
                             "node:\n  name: twin\n  control: 127.0.0.1:" + std::to_string(control) +
                                 "\n  data_dir: " + (dir / "data").string() +
                                 "\nsupervisor:\n  stop_grace: 2s\n  health: " + health + "\n"
                                 "models:\n  - name: demo\n    gguf: builtin:demo\n    ctx_size: 1024\n    parallel: 2\n"
                                 "    threads: 1\n    replicas: 2\n"
                                 "router:\n  listen: 127.0.0.1:" + std::to_string(routerPort) + "\n" + routerYaml);
  TestProcess sup({supervisorBinary().string(), "start", "--config", cfg.string()}, dir / "supervisor.log");
  const std::string router = "http://127.0.0.1:" + std::to_string(routerPort);
  ReplicaRun run;
  if (!waitUntil([&] { return readyWorkers(router) == 2; }, seconds(90), milliseconds(100))) {
    run.log = sup.output();
    ADD_FAILURE() << "the replicas never became ready";
    return run;
  }
  // Both replicas with the model file's digest, as the router will compare them.
  const std::string statusUrl = "http://127.0.0.1:" + std::to_string(control) + "/status";
  EXPECT_TRUE(waitUntil(
      [&] {
        const auto st = getJson(statusUrl);
        if (!st.is_object() || st["models"].size() != 2) return false;
        for (const auto& m : st["models"])
          if (!m.contains("digest") || m["model"] != "demo") return false;
        return true;
      },
      seconds(30), milliseconds(100)));
  const auto st = getJson(statusUrl);
  EXPECT_EQ(st["models"][0]["name"], "demo");
  EXPECT_EQ(st["models"][1]["name"], "demo#2");
  std::string pids;
  for (const auto& m : st["models"])
    pids += (pids.empty() ? "" : ",") + std::to_string(m["port"].get<int>()) + "=" + std::to_string(m["pid"].get<int>());
  run.script = runCommand({"/usr/bin/env", "node", (nodeDir / "stream_survives_client.mjs").string(), router + "/v1",
                           "demo", mode, pids},
                          seconds(60));
  run.metrics = httpGet(router + "/metrics", seconds(2)).body;
  sup.signal(SIGTERM);
  EXPECT_TRUE(sup.waitExit(seconds(15)));
  run.log = sup.output();
  return run;
}

bool replicaTestCanRun() {
  return haveRealLlamaServer() && std::filesystem::exists(supervisorBinary()) &&
         std::filesystem::exists(sourceDir() / "tests" / "integration" / "node" / "node_modules" / "openai");
}
}  // namespace

// The official SDK's stream survives kill -9 of the replica serving it (the other continues it).
TEST(RouterSupervisor, TwoReplicasOfOneModelCarryAStreamPastTheDeathOfOne) {
  if (!replicaTestCanRun()) GTEST_SKIP() << "llama-server, the demo model, qmesh-supervisor or openai is missing";
  const auto run = streamPastAReplica("kill", "{interval: 200ms, timeout: 1s}", "");
  EXPECT_EQ(run.script.exit_code, 0) << run.script.output << "\n" << run.log;
  EXPECT_NE(run.metrics.find("qmesh_stream_continuations_total{model=\"demo\",reason=\"reset\"} 1"), std::string::npos)
      << run.metrics;
}

// The `worker_down` trigger: the serving replica is SIGSTOPped, so its stream goes silent; the
// supervisor's health poll finds it hung (state unhealthy) long before router.stall_timeout
// (30 s here), and the router continues the stream because the supervisor says so. (Eight
// failed polls, ~4 s, before the supervisor restarts it: the router, which looks at the
// worker's state every second, must act on "unhealthy", not on the restart's reset.)
TEST(RouterSupervisor, StreamMovesWhenTheSupervisorReportsItsReplicaHungBeforeTheStallTimeout) {
  if (!replicaTestCanRun()) GTEST_SKIP() << "llama-server, the demo model, qmesh-supervisor or openai is missing";
  const auto t0 = steady_clock::now();
  const auto run = streamPastAReplica("stop", "{interval: 200ms, timeout: 300ms, failure_threshold: 8}",
                                      "  stall_timeout: 30s\n");
  EXPECT_EQ(run.script.exit_code, 0) << run.script.output << "\n" << run.log;
  EXPECT_NE(run.metrics.find("qmesh_stream_continuations_total{model=\"demo\",reason=\"worker_down\"} 1"),
            std::string::npos)
      << run.metrics;
  EXPECT_EQ(run.metrics.find("reason=\"stall\""), std::string::npos) << run.metrics;
  EXPECT_LT(steady_clock::now() - t0, seconds(60));
}
