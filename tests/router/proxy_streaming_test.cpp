// The proxy path against FakeUpstream: event-by-event SSE relay, pass-through of plain
// responses, big streams, keepalive comments, keep-alive connections, and the client
// hanging up (mid-stream and mid-queue).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <thread>

#include "tests/router/fake_upstream.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

using namespace qmesh;
using namespace qmesh::test;
using namespace std::chrono;
using router::StaticWorker;

namespace {

int apiQueued(const RouterHarness& r) {
  auto res = httpGet(r.url("/api/status"));
  return nlohmann::json::parse(res.body)["models"][0]["queued"].get<int>();
}

// Slots of the one worker held by requests (its leases), as /api/status reports them.
int apiOutstanding(const RouterHarness& r) {
  auto res = httpGet(r.url("/api/status"));
  return nlohmann::json::parse(res.body)["models"][0]["workers"][0]["outstanding"].get<int>();
}

}  // namespace

TEST(ProxyStreaming, RelaysEachEventAsItArrivesWithSseHeaders) {
  FakeUpstreamScript s;
  s.events = 5;
  s.interval = milliseconds(100);
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  const auto t0 = steady_clock::now();
  std::vector<milliseconds> arrivals;
  std::string trace;
  auto res = httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [&](const std::string& chunk) {
    arrivals.push_back(duration_cast<milliseconds>(steady_clock::now() - t0));
    trace += std::to_string(arrivals.back().count()) + "ms:" + std::to_string(chunk.size()) + "B ";
    return true;
  });
  ASSERT_EQ(res.status, 200) << res.error;
  EXPECT_EQ(res.body, expectedStream(s));
  // Five events 100 ms apart reach the client as separate arrivals spread over the stream's
  // 400 ms, not as one blob at the end. (Relative, not absolute: the first request of a
  // process under ASan on a loaded machine takes ~100 ms to set up.)
  ASSERT_GE(arrivals.size(), 5u) << trace;
  EXPECT_GT((arrivals.back() - arrivals.front()).count(), 350) << trace;
  EXPECT_GT((arrivals[1] - arrivals[0]).count(), 50) << trace;
  EXPECT_EQ(res.headers["content-type"], "text/event-stream");
  EXPECT_EQ(res.headers["cache-control"], "no-cache");
  EXPECT_EQ(res.headers["x-accel-buffering"], "no");
  EXPECT_EQ(res.headers["x-qmesh-route"], "testnode/m@127.0.0.1:" + std::to_string(up.port()) + " (least-loaded 0/4)");
  EXPECT_EQ(res.headers["x-request-id"].size(), 16u);
}

TEST(ProxyStreaming, KeepsTheClientsRequestIdAndForwardsIt) {
  FakeUpstream up;
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  auto res = httpPostJson(r.url("/v1/chat/completions"), kStreamingChat, {{"x-request-id", "client-abc-1"}});
  EXPECT_EQ(res.headers["x-request-id"], "client-abc-1");
  EXPECT_NE(up.lastRequest().find("x-request-id: client-abc-1"), std::string::npos);
  EXPECT_EQ(up.lastRequest().find("Authorization"), std::string::npos);
}

TEST(ProxyStreaming, NonStreamingResponsePassesThroughUnchanged) {
  FakeUpstreamScript s;
  s.sse = false;
  s.status = 200;
  s.body = R"({"id":"x","object":"chat.completion","choices":[{"message":{"content":"hello"}}]})";
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  auto res = httpPostJson(r.url("/v1/chat/completions"), R"({"model":"m","messages":[]})");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, s.body);
  EXPECT_EQ(res.headers["content-type"], "application/json");
  EXPECT_EQ(res.headers["content-length"], std::to_string(s.body.size()));
}

TEST(ProxyStreaming, StreamLargerThanBeastsDefaultBodyLimitSurvives) {
  FakeUpstreamScript s;
  s.events = 2200;
  s.eventBytes = 4000;  // ~8.9 MB: past Beast's 8 MB default response body limit
  s.interval = milliseconds(0);
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  auto res = httpPostJson(r.url("/v1/chat/completions"), kStreamingChat);
  ASSERT_EQ(res.status, 200) << res.error;
  EXPECT_GT(res.body.size(), 8u << 20);
  EXPECT_TRUE(res.body == expectedStream(s)) << "stream differs, size " << res.body.size();
}

TEST(ProxyStreaming, IdleStreamGetsKeepaliveCommentsBetweenEvents) {
  FakeUpstreamScript s;
  s.events = 2;
  s.pauseInsideFirst = milliseconds(450);  // idle mid-event: a comment here would corrupt it
  s.pauseAfterFirst = milliseconds(450);   // idle between events: comments belong here
  FakeUpstream up(s);
  auto cfg = RouterHarness::config({workerOn(up.port())});
  cfg.keepalive_interval = milliseconds(100);
  RouterHarness r(cfg);
  auto res = httpPostJson(r.url("/v1/chat/completions"), kStreamingChat);
  ASSERT_EQ(res.status, 200);
  // Exactly: the first event whole, then only comments, then the rest of the stream. A
  // continuable stream (stream_continuation.h) holds an unfinished event back, so comments
  // may also come before the first event, never inside it.
  const std::string first = FakeUpstream::event(s.eventBytes, 0);
  const std::string comment = ": keepalive\n\n";
  std::size_t at = 0;
  while (res.body.compare(at, comment.size(), comment) == 0) at += comment.size();
  ASSERT_EQ(res.body.compare(at, first.size(), first), 0) << "a comment split the first event:\n" << res.body;
  at += first.size();
  int comments = 0;
  for (; res.body.compare(at, comment.size(), comment) == 0; at += comment.size()) ++comments;
  EXPECT_GE(comments, 2) << res.body;  // 450 ms idle at a 100 ms interval: about four
  EXPECT_EQ(res.body.substr(at), FakeUpstream::event(s.eventBytes, 1) + "data: [DONE]\n\n");
}

TEST(ProxyStreaming, ClientHangingUpMidStreamClosesUpstreamWithin100ms) {
  FakeUpstreamScript s;
  s.events = 3;
  s.pauseAfterFirst = milliseconds(10000);  // like a slow decode step
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port(), 1)}));
  steady_clock::time_point hungUp;
  httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [&](const std::string& chunk) {
    if (chunk.find("data:") == std::string::npos) return true;
    hungUp = steady_clock::now();
    return false;
  });
  ASSERT_TRUE(waitUntil([&] { return up.lastPeerClose().has_value(); }, milliseconds(2000)));
  EXPECT_LT(duration_cast<milliseconds>(*up.lastPeerClose() - hungUp).count(), 100);
  // The worker's only slot is free again, and the next request is admitted at once: chosen
  // with 0 of 1 slots in use (a held slot would queue it until a 503 queue_timeout).
  ASSERT_TRUE(waitUntil([&] { return apiOutstanding(r) == 0; }, milliseconds(2000)));
  FakeUpstreamScript quick;
  quick.sse = false;
  up.setScript(quick);
  auto next = httpPostJson(r.url("/v1/chat/completions"), kStreamingChat);
  EXPECT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(next.headers["x-qmesh-route"], "testnode/m@127.0.0.1:" + std::to_string(up.port()) + " (least-loaded 0/1)");
}

TEST(ProxyStreaming, ClientHangingUpWhileQueuedLeavesTheQueue) {
  FakeUpstreamScript s;
  s.hangAfterHeader = true;
  FakeUpstream up(s);
  auto cfg = RouterHarness::config({workerOn(up.port(), 1)});
  cfg.queue_timeout = seconds(20);
  RouterHarness r(cfg);
  std::thread holder([&] { httpPostJson(r.url("/v1/chat/completions"), kStreamingChat, {}, milliseconds(1500)); });
  ASSERT_TRUE(waitUntil([&] { return up.requests() == 1; }, milliseconds(2000)));
  const auto queuedClient = httpPostJson(r.url("/v1/chat/completions"), kStreamingChat, {}, milliseconds(300));
  EXPECT_EQ(queuedClient.status, 0);  // it gave up, nothing was answered
  EXPECT_TRUE(waitUntil([&] { return apiQueued(r) == 0; }, milliseconds(500)));
  holder.join();
  EXPECT_EQ(up.requests(), 1);  // the abandoned request never reached the worker
}

TEST(ProxyStreaming, KeepAliveConnectionServesSeveralRequests) {
  FakeUpstreamScript s;
  s.sse = false;
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  router::net::io_context io;
  router::tcp::socket sock(io);
  sock.connect({router::net::ip::make_address("127.0.0.1"), r.port()});
  const std::string body = R"({"model":"m","messages":[]})";
  const std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  router::beast::flat_buffer buf;
  for (int i = 0; i < 3; ++i) {
    router::net::write(sock, router::net::buffer(req));
    router::http::response<router::http::string_body> res;
    router::http::read(sock, buf, res);
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_TRUE(res.keep_alive());
  }
  EXPECT_EQ(up.requests(), 3);
}

// A worker killed mid-stream: the client gets the events so far, then an OpenAI error event
// (what an SDK raises as an API error), and still no [DONE] nor a complete chunked body.
TEST(ProxyStreaming, WorkerDyingMidStreamEndsTheStreamWithAnInBandErrorEvent) {
  FakeUpstreamScript s;
  s.events = 5;
  s.dieAfterEvents = 2;
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  auto res = httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [](const std::string&) { return true; });
  ASSERT_EQ(res.status, 200) << res.error;
  const std::string relayed = FakeUpstream::event(s.eventBytes, 0) + FakeUpstream::event(s.eventBytes, 1);
  ASSERT_EQ(res.body.rfind(relayed, 0), 0u) << res.body;
  const std::string rest = res.body.substr(relayed.size());
  ASSERT_EQ(rest.rfind("data: ", 0), 0u) << res.body;
  ASSERT_GE(rest.size(), 8u);
  EXPECT_EQ(rest.substr(rest.size() - 2), "\n\n") << res.body;
  const auto event = nlohmann::json::parse(rest.substr(6), nullptr, false);
  ASSERT_TRUE(event.is_object()) << rest;
  EXPECT_EQ(event["error"]["code"], "upstream_error") << rest;
  EXPECT_NE(event["error"]["message"].get<std::string>().find("broke mid-response"), std::string::npos) << rest;
  EXPECT_EQ(res.body.find("[DONE]"), std::string::npos);
  EXPECT_FALSE(res.error.empty()) << "the body must still end broken, without its terminator";
}

// A client that reads slower than the worker writes fills the router's send buffer, so body
// writes go out in part at once and the rest later (send_now.h): the stream must still
// arrive whole and in order. The pause per piece stands for a slow reader, not a wait for
// readiness.
TEST(ProxyStreaming, SlowReaderStillGetsTheWholeStream) {
  FakeUpstreamScript s;
  s.events = 2000;
  s.eventBytes = 8000;  // 16 MB at once: more than loopback's socket buffers hold
  s.interval = milliseconds(0);
  FakeUpstream up(s);
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  auto res = httpPostStream(r.url("/v1/chat/completions"), kChat, [&](const std::string&) {
    std::this_thread::sleep_for(milliseconds(2));
    return true;
  });
  ASSERT_EQ(res.status, 200) << res.error;
  EXPECT_TRUE(res.body == expectedStream(s)) << "stream differs, size " << res.body.size();
}
