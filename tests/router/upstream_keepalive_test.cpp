// Keep-alive to the local worker (router/proxy/upstream_pool.h): a finished exchange leaves
// its connection for the next request, a client that hangs up still frees the worker at once,
// a connection the worker closed while idle costs the next request nothing, and a request
// that may have reached the worker is never sent to it twice.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/router/fake_upstream.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

using namespace qmesh;
using namespace qmesh::test;
using namespace std::chrono;
using router::StaticWorker;

namespace {

FakeUpstreamScript keptAlive() {
  FakeUpstreamScript s;
  s.keepAlive = true;
  s.events = 3;
  s.interval = milliseconds(1);
  return s;
}

}  // namespace

TEST(UpstreamKeepAlive, SequentialRequestsShareOneUpstreamConnection) {
  const FakeUpstreamScript s = keptAlive();
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  for (int i = 0; i < 3; ++i) {  // each from a new client connection
    auto res = httpPostJson(r.url("/v1/chat/completions"), kStreamingChat);
    ASSERT_EQ(res.status, 200) << res.error;
    EXPECT_EQ(res.body, expectedStream(s));
  }
  EXPECT_EQ(up.requests(), 3);
  EXPECT_EQ(up.connections(), 1);
}

TEST(UpstreamKeepAlive, NonStreamedResponseLeavesItsConnectionForTheNext) {
  FakeUpstreamScript s = keptAlive();
  s.sse = false;
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  for (int i = 0; i < 2; ++i) {
    auto res = httpPostJson(r.url("/v1/chat/completions"), R"({"model":"m","messages":[]})");
    ASSERT_EQ(res.status, 200) << res.error;
    EXPECT_EQ(res.body, s.body);
  }
  EXPECT_EQ(up.connections(), 1);
}

// The slot-freeing rule holds on a reused connection too: a client hanging up mid-stream
// closes its upstream at once, and that connection is not kept.
TEST(UpstreamKeepAlive, ClientHangingUpClosesAReusedUpstreamWithin100ms) {
  FakeUpstreamScript s = keptAlive();
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port(), 1)}));
  ASSERT_EQ(httpPostJson(r.url("/v1/chat/completions"), kStreamingChat).status, 200);
  s.pauseAfterFirst = milliseconds(10000);  // like a slow decode step
  up.setScript(s);
  steady_clock::time_point hungUp;
  httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [&](const std::string& chunk) {
    if (chunk.find("data:") == std::string::npos) return true;
    hungUp = steady_clock::now();
    return false;
  });
  ASSERT_TRUE(waitUntil([&] { return up.lastPeerClose().has_value(); }, milliseconds(2000)));
  EXPECT_LT(duration_cast<milliseconds>(*up.lastPeerClose() - hungUp).count(), 100);
  EXPECT_EQ(up.connections(), 1);  // the hung-up request did run on the kept connection
  ASSERT_TRUE(waitUntil([&] { return up.open() == 0; }, milliseconds(2000)));
  // The next request needs a new connection: the broken one was not kept.
  s.pauseAfterFirst = milliseconds(0);
  up.setScript(s);
  auto next = httpPostJson(r.url("/v1/chat/completions"), kStreamingChat);
  EXPECT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(up.connections(), 2);
}

// cpp-httplib closes a connection idle for its keep-alive timeout. The router notices (the
// idle connection turns readable) and the next request connects afresh, with no error.
TEST(UpstreamKeepAlive, ConnectionTheWorkerClosedWhileIdleCostsTheNextRequestNothing) {
  FakeUpstreamScript s = keptAlive();
  s.idleTimeout = milliseconds(50);
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  ASSERT_EQ(httpPostJson(r.url("/v1/chat/completions"), kStreamingChat).status, 200);
  ASSERT_TRUE(waitUntil([&] { return up.open() == 0; }, milliseconds(2000)));  // the worker closed it
  auto res = httpPostJson(r.url("/v1/chat/completions"), kStreamingChat);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body, expectedStream(s));
  EXPECT_EQ(up.connections(), 2);
  EXPECT_EQ(httpGet(r.url("/metrics")).body.find("qmesh_router_upstream_errors_total{"), std::string::npos);
}

// The worker reads the request on a reused connection, then closes it unanswered (its
// keep-alive timeout fired as the request arrived). The request may have started on the
// worker, and a completion is not idempotent: it is not sent there again on a fresh
// connection; the client hears 502.
TEST(UpstreamKeepAlive, RequestThatMayHaveReachedTheWorkerIsNotSentTwice) {
  FakeUpstreamScript s = keptAlive();
  s.closeUnansweredAfter = 1;
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  ASSERT_EQ(httpPostJson(r.url("/v1/chat/completions"), kStreamingChat).status, 200);
  auto res = httpPostJson(r.url("/v1/chat/completions"), kStreamingChat);
  EXPECT_EQ(res.status, 502) << res.body;
  EXPECT_EQ(up.requests(), 2);
  EXPECT_EQ(up.connections(), 1);
}
