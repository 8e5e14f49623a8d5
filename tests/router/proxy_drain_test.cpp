// Issue 12, the router's drain (Router::drain, what SIGTERM does): no new request, /readyz
// 503 while /livez stays 200, the stream in flight finishes whole, and the router stops by
// itself once nothing is in flight, or cuts what is left at drain_timeout + shutdown_grace.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

#include "tests/router/fake_upstream.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

using namespace qmesh;
using namespace qmesh::test;
using namespace std::chrono;

namespace {

std::string drainTestErrorCode(const HttpResponse& r) {
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
}

// A streaming chat on its own thread; started() once its first bytes arrived.
class StreamInBackground {
 public:
  explicit StreamInBackground(const std::string& url)
      : thread_([this, url] {
          response_ = httpPostStream(url, kStreamingChat, [this](const std::string&) {
            started_ = true;
            return true;
          }, {}, seconds(30));
        }) {}
  ~StreamInBackground() {
    if (thread_.joinable()) thread_.join();
  }
  bool started() const { return started_.load(); }
  const HttpResponse& finish() {
    thread_.join();
    return response_;
  }

 private:
  std::atomic<bool> started_{false};
  HttpResponse response_;
  std::thread thread_;  // last: it starts writing the members above at once
};

}  // namespace

TEST(RouterDrain, StreamInFlightFinishesWholeWhileNewRequestsAreRefusedThenTheRouterStops) {
  FakeUpstreamScript s;
  s.events = 30;
  s.interval = milliseconds(50);  // 1.5 s: the drain starts after the first event
  FakeUpstream up(s);
  auto cfg = RouterHarness::config({workerOn(up.port())});
  cfg.drain_timeout = seconds(20);
  RouterHarness r(cfg);
  StreamInBackground client(r.url("/v1/chat/completions"));
  ASSERT_TRUE(waitUntil([&] { return client.started(); }, seconds(10)));
  r.drain();
  ASSERT_TRUE(waitUntil([&] { return httpGet(r.url("/readyz"), seconds(2)).status == 503; }, seconds(5)));
  const auto ready = httpGet(r.url("/readyz"), seconds(2));
  EXPECT_NE(ready.body.find("draining"), std::string::npos) << ready.body;
  EXPECT_EQ(httpGet(r.url("/livez"), seconds(2)).status, 200);
  const auto refused = httpPostJson(r.url("/v1/chat/completions"), kStreamingChat, {}, seconds(5));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(drainTestErrorCode(refused), "draining") << refused.body;
  const auto connection = refused.headers.find("connection");
  EXPECT_TRUE(connection != refused.headers.end() && connection->second == "close");
  EXPECT_FALSE(r.stopped()) << "the router stopped with a stream in flight";
  const HttpResponse& streamed = client.finish();
  EXPECT_EQ(streamed.status, 200) << streamed.error;
  EXPECT_EQ(streamed.body, expectedStream(s));
  EXPECT_EQ(up.requests(), 1) << "the refused request reached the worker";
  // Nothing in flight any more: it leaves (no mesh here) and stops by itself.
  EXPECT_TRUE(waitUntil([&] { return r.stopped(); }, seconds(5)));
}

TEST(RouterDrain, IdleRouterStopsAtOnce) {
  FakeUpstream up;
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  ASSERT_EQ(httpGet(r.url("/readyz")).status, 200);
  r.drain();
  EXPECT_TRUE(waitUntil([&] { return r.stopped(); }, seconds(3)));
}

// At drain_timeout the supervisor stops the node's workers, and llama-server keeps a
// connection with a stream in flight open until it is SIGKILLed: the router must move the
// stream off its worker then, not wait for the worker to die. Here the only worker is this
// node's, so nothing can continue it and the client gets the refusal's error event at once,
// long before the worker would have finished (and the grace, 20 s, would have cut it).
TEST(RouterDrain, StreamStillOnTheNodesWorkerAtDrainTimeoutLeavesItThen) {
  FakeUpstreamScript s;
  s.events = 40;
  s.interval = milliseconds(100);  // 4 s
  FakeUpstream up(s);
  auto cfg = RouterHarness::config({workerOn(up.port())});
  cfg.drain_timeout = milliseconds(300);
  cfg.shutdown_grace = seconds(20);
  RouterHarness r(cfg);
  StreamInBackground client(r.url("/v1/chat/completions"));
  ASSERT_TRUE(waitUntil([&] { return client.started(); }, seconds(10)));
  r.drain();
  const HttpResponse& streamed = client.finish();
  EXPECT_EQ(streamed.status, 200) << streamed.error;
  EXPECT_EQ(streamed.body.find("data: [DONE]"), std::string::npos) << streamed.body;
  EXPECT_NE(streamed.body.find("worker_down"), std::string::npos) << streamed.body;
  EXPECT_NE(streamed.body.find("no other ready worker"), std::string::npos) << streamed.body;
  EXPECT_TRUE(waitUntil([&] { return r.stopped(); }, seconds(5)));
}

// A request that no continuation can move (not streamed: the client waits for the whole
// answer) and that is still waiting at drain_timeout + shutdown_grace is cut then.
TEST(RouterDrain, WhatIsLeftAtDrainTimeoutPlusGraceIsCut) {
  FakeUpstreamScript s;
  s.sse = false;
  s.pauseBeforeHeader = seconds(30);  // a completion that would take 30 s
  FakeUpstream up(s);
  auto cfg = RouterHarness::config({workerOn(up.port())});
  cfg.drain_timeout = milliseconds(300);
  cfg.shutdown_grace = milliseconds(300);
  RouterHarness r(cfg);
  HttpResponse answer;
  std::thread client([&] { answer = httpPostJson(r.url("/v1/chat/completions"), kChat, {}, seconds(40)); });
  ASSERT_TRUE(waitUntil([&] { return up.requests() == 1; }, seconds(5)));
  r.drain();
  // Well before the 30 s the completion would take: the cut, not its end, stopped the router.
  EXPECT_TRUE(waitUntil([&] { return r.stopped(); }, seconds(10)));
  client.join();
  EXPECT_NE(answer.status, 200) << answer.body;
}
