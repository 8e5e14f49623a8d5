// What the console learns from requests forwarded through an in-process router (against a
// FakeUpstream): the recent errors, the tokens/s of this node's own workers
// (console/token_rates.h, which its gossip also carries to the other nodes), and the cancel
// button.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <future>

#include "tests/router/event_reader.h"
#include "tests/router/fake_upstream.h"
#include "tests/router/router_harness.h"
#include "tests/support/fake_clock.h"
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

// The console's cancel button: the request ends as if its client hung up (499, the upstream
// closed), request_cancelled and request_finished say so; an id not in flight is a 404.
TEST(ConsoleStatus, CancelEndsTheRequestInFlightAndAnUnknownIdIsNotFound) {
  FakeUpstreamScript slow;
  slow.events = 2000;
  slow.interval = milliseconds(20);
  FakeUpstream up(slow);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  EventReader reader(r.port());
  ASSERT_TRUE(waitUntil([&] { return consoleStatusGet(r, "/api/console")["events"]["subscribers"] == 1; }, seconds(5)));
  auto stream = std::async(std::launch::async, [&] {
    return httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [](const std::string&) { return true; },
                          {{"x-request-id", "req-cancel-1"}}, seconds(30));
  });
  ASSERT_TRUE(waitUntil([&] { return consoleStatusGet(r, "/api/requests").size() == 1; }, seconds(5)));
  const auto res = httpRequest("POST", r.url("/api/requests/req-cancel-1/cancel"));
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(json::parse(res.body, nullptr, false)["cancelled"], "req-cancel-1") << res.body;
  ASSERT_EQ(stream.wait_for(seconds(5)), std::future_status::ready) << "the stream (40 s long) did not end";
  const auto cancelled = reader.waitFor("request_cancelled");
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->data["request_id"], "req-cancel-1");
  const auto finished = reader.waitFor("request_finished");
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->data["cancelled"], true);
  EXPECT_EQ(finished->data["status"], 499);
  EXPECT_EQ(consoleStatusGet(r, "/api/requests"), json::array());
  const auto unknown = httpRequest("POST", r.url("/api/requests/req-cancel-1/cancel"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body, nullptr, false)["error"]["code"], "request_not_found") << unknown.body;
}

// A request's start, its elapsed time in the live list and its duration in request_finished
// come from the router's injected clock, not the system's. The clock is a minute ahead of
// the system's before the request (a start read from the system's would make it a minute
// older) and moves 7 s more mid-request (a "now" read from the system's would not see them).
TEST(ConsoleStatus, RequestTimesComeFromTheRoutersClock) {
  FakeUpstreamScript slow;
  slow.events = 2000;
  slow.interval = milliseconds(20);
  FakeUpstream up(slow);
  OffsetClock clock;
  RouterHarness r(RouterHarness::config({workerOn(up.port())}), &clock);
  EventReader reader(r.port());
  ASSERT_TRUE(waitUntil([&] { return consoleStatusGet(r, "/api/console")["events"]["subscribers"] == 1; }, seconds(5)));
  clock.advance(minutes(1));
  const auto wallStart = steady_clock::now();
  auto stream = std::async(std::launch::async, [&] {
    return httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [](const std::string&) { return true; },
                          {{"x-request-id", "req-clock-1"}}, seconds(30));
  });
  json live;
  ASSERT_TRUE(waitUntil([&] { return (live = consoleStatusGet(r, "/api/requests")).size() == 1; }, seconds(5)));
  clock.advance(seconds(7));
  live = consoleStatusGet(r, "/api/requests");
  ASSERT_EQ(live.size(), 1u) << live.dump();
  EXPECT_GE(live[0]["elapsed_ms"].get<int64_t>(), 7000) << live.dump();
  EXPECT_LT(live[0]["elapsed_ms"].get<int64_t>(), 60000) << live.dump();
  ASSERT_EQ(httpRequest("POST", r.url("/api/requests/req-clock-1/cancel")).status, 200);
  ASSERT_EQ(stream.wait_for(seconds(5)), std::future_status::ready);
  const auto wallMs = duration_cast<milliseconds>(steady_clock::now() - wallStart).count();
  const auto finished = reader.waitFor("request_finished");
  ASSERT_TRUE(finished);
  EXPECT_GE(finished->data["duration_ms"].get<int64_t>(), 7000) << finished->data.dump();
  EXPECT_LE(finished->data["duration_ms"].get<int64_t>(), 7000 + wallMs) << finished->data.dump();
}
