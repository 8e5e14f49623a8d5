// The official `openai` npm package pointed at qmesh-router in front of the real
// llama-server: tests/integration/node/router_openai_client.mjs does the SDK calls.
#include <gtest/gtest.h>

#include "tests/router/llama_fixture.h"

using namespace qmesh::test;
using namespace std::chrono;

TEST(RouterOpenAiSdk, StreamingNonStreamingAndErrorsWorkThroughTheOfficialClient) {
  const auto nodeDir = sourceDir() / "tests" / "integration" / "node";
  if (!std::filesystem::exists(nodeDir / "node_modules" / "openai"))
    GTEST_SKIP() << "the openai npm package is not installed: run `npm ci` in " << nodeDir.string();
  if (!haveRealLlamaServer()) GTEST_SKIP() << "llama-server or the demo model is not built yet";
  TempDir dir;
  auto llama = startLlama(dir, "demo", 2, 1024);
  auto router = startRouter(dir, {"demo=" + llama.url() + ",slots=2"}, {"--api-key", "sk-sdk-test-01"});
  auto r = runCommand({"/usr/bin/env", "node", (nodeDir / "router_openai_client.mjs").string(),
                       router.url("/v1"), "demo", "sk-sdk-test-01"},
                      seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.output << "\nrouter log:\n" << router.proc->output();
}
