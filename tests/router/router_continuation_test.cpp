// Issue 12 end to end: two real llama-servers on the demo model behind one qmesh-router, the
// official `openai` npm client streaming, and the serving llama-server killed (or stopped)
// mid-stream by the client script (tests/integration/node/stream_survives_client.mjs).
#include <gtest/gtest.h>

#include <signal.h>

#include "tests/router/llama_fixture.h"
#include "tests/support/http_client.h"

using namespace qmesh::test;
using namespace std::chrono;

namespace {

class StreamSurvives : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(nodeDir() / "node_modules" / "openai"))
      GTEST_SKIP() << "the openai npm package is not installed: run `npm ci` in " << nodeDir().string();
    if (!haveRealLlamaServer()) GTEST_SKIP() << "llama-server or the demo model is not built yet";
  }
  static std::filesystem::path nodeDir() { return sourceDir() / "tests" / "integration" / "node"; }

  // Two workers of the same model file, then the script in `mode`; returns its result.
  CommandResult run(const std::string& mode, std::vector<std::string> routerFlags = {}) {
    a_ = startLlama(dir_, "demo", 2, 1024);
    b_ = startLlama(dir_, "demo", 2, 1024);
    router_ = startRouter(dir_, {"demo=" + a_.url() + ",slots=2", "demo=" + b_.url() + ",slots=2"}, routerFlags);
    const std::string pids = std::to_string(a_.port) + "=" + std::to_string(a_.proc->pid()) + "," +
                             std::to_string(b_.port) + "=" + std::to_string(b_.proc->pid());
    return runCommand({"/usr/bin/env", "node", (nodeDir() / "stream_survives_client.mjs").string(),
                       router_.url("/v1"), "demo", mode, pids},
                      seconds(60));
  }
  std::string metrics() { return httpGet(router_.url("/metrics"), seconds(5)).body; }
  std::string diagnostics(const CommandResult& r) { return r.output + "\nrouter log:\n" + router_.proc->output(); }

  TempDir dir_;
  LlamaServer a_, b_;
  RouterProcess router_;
};

}  // namespace

TEST_F(StreamSurvives, KilledWorkersStreamCompletesOnTheOtherAsOneStream) {
  const auto r = run("kill");
  EXPECT_EQ(r.exit_code, 0) << diagnostics(r);
  EXPECT_NE(metrics().find("qmesh_stream_continuations_total{model=\"demo\",reason=\"reset\"} 1"), std::string::npos)
      << metrics();
}

TEST_F(StreamSurvives, ContinuedStreamEndsWithDoneAndTheRouteComment) {
  const auto r = run("raw");
  EXPECT_EQ(r.exit_code, 0) << diagnostics(r);
}

TEST_F(StreamSurvives, StoppedWorkersStreamIsContinuedAfterTheStallTimeout) {
  const auto r = run("stop", {"--stall-timeout", "1000"});
  EXPECT_EQ(r.exit_code, 0) << diagnostics(r);
  EXPECT_NE(metrics().find("qmesh_stream_continuations_total{model=\"demo\",reason=\"stall\"} 1"), std::string::npos)
      << metrics();
  for (auto* s : {&a_, &b_}) s->proc->signal(SIGCONT);
}

TEST_F(StreamSurvives, StreamWithLogprobsEndsInAnErrorTheSdkRaises) {
  const auto r = run("refuse");
  EXPECT_EQ(r.exit_code, 0) << diagnostics(r);
  EXPECT_NE(metrics().find("qmesh_stream_continuations_refused_total{model=\"demo\",reason=\"logprobs\"} 1"),
            std::string::npos)
      << metrics();
}

TEST_F(StreamSurvives, NoContinuationWhenMaxContinuationsIsZero) {
  const auto r = run("kill", {"--max-continuations", "0"});
  EXPECT_NE(r.exit_code, 0) << diagnostics(r);
  EXPECT_NE(metrics().find("qmesh_stream_continuations_refused_total{model=\"demo\",reason=\"limit\"} 1"),
            std::string::npos)
      << metrics();
}
