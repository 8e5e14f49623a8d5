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

}  // namespace

TEST(RouterDrain, StreamInFlightFinishesWholeWhileNewRequestsAreRefusedThenTheRouterStops) {
  FakeUpstreamScript s;
  s.events = 30;
  s.interval = milliseconds(50);  // 1.5 s: the drain starts after the first event
  FakeUpstream up(s);
  auto cfg = RouterHarness::config({workerOn(up.port())});
  cfg.drain_timeout = seconds(20);
  RouterHarness r(cfg);
  std::atomic<bool> started{false};
  HttpResponse streamed;
  std::thread client([&] {
    streamed = httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [&](const std::string&) {
      started = true;
      return true;
    });
  });
  ASSERT_TRUE(waitUntil([&] { return started.load(); }, seconds(10)));
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
  client.join();
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

TEST(RouterDrain, WhatIsLeftAtDrainTimeoutPlusGraceIsCut) {
  FakeUpstreamScript s;
  s.hangAfterHeader = true;  // a stream that would never end
  FakeUpstream up(s);
  auto cfg = RouterHarness::config({workerOn(up.port())});
  cfg.drain_timeout = milliseconds(300);
  cfg.shutdown_grace = milliseconds(300);
  cfg.stall_timeout = seconds(30);
  RouterHarness r(cfg);
  std::atomic<bool> started{false};
  std::thread client([&] {
    httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [&](const std::string&) {
      started = true;
      return true;
    }, {}, seconds(30));
  });
  // The header went out (curl hands it over with the first body bytes or at the end): the
  // fake's hanging stream holds one request.
  ASSERT_TRUE(waitUntil([&] { return up.requests() == 1; }, seconds(5)));
  const auto t0 = steady_clock::now();
  r.drain();
  EXPECT_TRUE(waitUntil([&] { return r.stopped(); }, seconds(5)));
  EXPECT_LT(steady_clock::now() - t0, milliseconds(3000));
  client.join();
}
