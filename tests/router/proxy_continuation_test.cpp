// Issue 12 in-process: the one relay (response_relay.h) with its continuation capability
// (stream_continuation.h) against two FakeUpstream workers of one model, the first of which
// dies mid-stream. The real llama-server and the openai SDK prove the same end to end in
// router_continuation_test.cpp; this proves the relay's side on every build, in seconds.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "router/proxy/stream_edit.h"
#include "tests/router/fake_upstream.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"

using namespace qmesh;
using namespace qmesh::test;
using namespace std::chrono;

namespace {

// Two workers of model "m" that die after `dieAfter` events, one death between them: the
// stream dies on whichever it lands first and continues on the other.
struct TwoWorkersOneDeath {
  explicit TwoWorkersOneDeath(int dieAfter) {
    script.events = 5;
    script.interval = milliseconds(1);
    script.dieAfterEvents = dieAfter;
    script.deathBudget = std::make_shared<std::atomic<int>>(1);
    a = std::make_unique<FakeUpstream>(script);
    b = std::make_unique<FakeUpstream>(script);
  }
  FakeUpstreamScript script;
  std::unique_ptr<FakeUpstream> a, b;
};

}  // namespace

TEST(ProxyContinuation, StreamOfAWorkerDyingMidStreamEndsOnTheOtherAsOneStream) {
  TwoWorkersOneDeath w(2);
  RouterHarness r(RouterHarness::config({workerOn(w.a->port()), workerOn(w.b->port())}));
  auto res = httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [](const std::string&) { return true; });
  ASSERT_EQ(res.status, 200) << res.error;
  EXPECT_TRUE(res.error.empty()) << "the continued stream must end complete: " << res.error;
  // The dead worker's two events verbatim, then the other worker's five (the fake ignores
  // the continuation and starts over), re-serialized, then [DONE] and the route comment.
  const std::string first = FakeUpstream::event(w.script.eventBytes, 0) + FakeUpstream::event(w.script.eventBytes, 1);
  ASSERT_EQ(res.body.rfind(first, 0), 0u) << res.body;
  const auto events = router::splitEvents(std::string_view(res.body).substr(first.size()));
  ASSERT_EQ(events.size(), 7u) << res.body;
  for (int i = 0; i < 5; ++i) {
    const auto data = router::eventData(events[i]);
    ASSERT_TRUE(data) << events[i];
    const auto chunk = nlohmann::json::parse(*data, nullptr, false);
    ASSERT_TRUE(chunk.is_object()) << events[i];
    EXPECT_EQ(chunk["choices"][0]["delta"]["content"], std::string(w.script.eventBytes, 'a' + i)) << events[i];
  }
  EXPECT_EQ(events[5], "data: [DONE]\n\n");
  EXPECT_EQ(events[6].rfind(": qmesh-route ", 0), 0u) << events[6];
  EXPECT_NE(events[6].find(", continued on "), std::string::npos) << events[6];
  EXPECT_NE(events[6].find(" after reset"), std::string::npos) << events[6];
  // The worker that went on was asked to continue what the client already had.
  EXPECT_EQ(w.a->requests(), 1);
  EXPECT_EQ(w.b->requests(), 1);
  const bool aFirst = res.headers["x-qmesh-route"].find(":" + std::to_string(w.a->port()) + " ") != std::string::npos;
  FakeUpstream& next = aFirst ? *w.b : *w.a;
  const std::string sent = std::string(w.script.eventBytes, 'a') + std::string(w.script.eventBytes, 'b');
  EXPECT_NE(next.lastRequest().find("\"continue_final_message\":true"), std::string::npos) << next.lastRequest();
  EXPECT_NE(next.lastRequest().find(sent), std::string::npos) << next.lastRequest();
}

// The same stream not asked to stream (a plain relay of an event stream): no continuation,
// the break reaches the client as the in-band error event.
TEST(ProxyContinuation, NonStreamingRequestIsNotContinued) {
  TwoWorkersOneDeath w(2);
  RouterHarness r(RouterHarness::config({workerOn(w.a->port()), workerOn(w.b->port())}));
  auto res = httpPostStream(r.url("/v1/chat/completions"), kChat, [](const std::string&) { return true; });
  ASSERT_EQ(res.status, 200) << res.error;
  EXPECT_EQ(w.a->requests() + w.b->requests(), 1);
  EXPECT_EQ(res.body.find("[DONE]"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("upstream_error"), std::string::npos) << res.body;
}
