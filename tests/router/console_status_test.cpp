// What the console's snapshot learns from requests forwarded through an in-process router
// (against a FakeUpstream): the recent errors, and the tokens/s of this node's own workers
// (console/token_rates.h), which its gossip also carries to the other nodes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/router/fake_upstream.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

using namespace qmesh;
using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

json consoleStatusGet(const RouterHarness& r, const std::string& path) {
  const auto res = httpGet(r.url(path));
  json j = json::parse(res.body, nullptr, false);
  if (j.is_discarded()) ADD_FAILURE() << path << ": " << res.status << " " << res.error << " " << res.body;
  return j;
}

}  // namespace

TEST(ConsoleStatus, AForwardedErrorIsKeptUnderRecentErrorsAndASuccessIsNot) {
  FakeUpstreamScript bad;
  bad.status = 400;
  bad.sse = false;
  bad.body = R"({"error":{"message":"bad"}})";
  FakeUpstream up(bad);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  EXPECT_EQ(consoleStatusGet(r, "/api/errors"), json::array());
  const auto res = httpPostJson(r.url("/v1/chat/completions"), kChat, {{"x-request-id", "req-bad-1"}});
  ASSERT_EQ(res.status, 400) << res.body;
  json errors;
  ASSERT_TRUE(waitUntil([&] { return (errors = consoleStatusGet(r, "/api/errors")).size() == 1; }, seconds(5)))
      << errors.dump();
  EXPECT_EQ(errors[0]["request_id"], "req-bad-1");
  EXPECT_EQ(errors[0]["status"], 400);
  EXPECT_EQ(errors[0]["model"], "m");
}

TEST(ConsoleStatus, StreamsServedByThisNodesWorkerGiveItsTokensPerSecond) {
  FakeUpstreamScript script;
  script.events = 20;
  script.interval = milliseconds(10);
  FakeUpstream up(script);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  const auto rate = [&] { return consoleStatusGet(r, "/api/status")["models"][0]["workers"][0]["tokens_per_s"]; };
  EXPECT_EQ(rate(), 0.0) << "no stream yet";
  const auto res = httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [](const std::string&) { return true; });
  ASSERT_EQ(res.status, 200);
  json told;
  ASSERT_TRUE(waitUntil([&] { return (told = rate()).is_number() && told.get<double>() > 0; }, seconds(5))) << told;
  // About 21 events over the stream's own duration (19 gaps of 10 ms and more): about 110
  // tokens/s; not spread over the minute (0.35/s), nor per millisecond.
  EXPECT_LT(told.get<double>(), 150.0);
  EXPECT_GT(told.get<double>(), 10.0);
}
