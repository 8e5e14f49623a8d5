// Every error the router answers itself, through the wire, in OpenAI's shape; and the
// one retry on another worker when the first fails before any byte reached the client.
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

std::string errorCode(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) return "<not an OpenAI error: " + r.body + ">";
  return j["error"]["code"].get<std::string>();
}

FakeUpstreamScript plain(int status, std::string body = R"({"ok":true})") {
  FakeUpstreamScript s;
  s.sse = false;
  s.status = status;
  s.body = std::move(body);
  return s;
}

}  // namespace

TEST(ProxyErrors, RefusedConnectionIsRetriedOnAnotherWorker) {
  FakeUpstream good(plain(200));
  const uint16_t dead = freeLoopbackPort();
  RouterHarness r(RouterHarness::config({workerOn(dead), workerOn(good.port())}));
  // Prefix affinity sends one prompt to one worker every time, so vary the prompt until one
  // lands on the refusing worker first (each has an even chance; 64 misses are 2^-64 likely).
  bool sawRetry = false;
  for (int i = 0; i < 64 && !sawRetry; ++i) {
    const std::string chat =
        R"({"model":"m","messages":[{"role":"user","content":"hi )" + std::to_string(i) + R"("}]})";
    auto res = httpPostJson(r.url("/v1/chat/completions"), chat);
    ASSERT_EQ(res.status, 200) << res.body;
    sawRetry |= res.headers["x-qmesh-route"].find("retry after connect") != std::string::npos;
    EXPECT_NE(res.headers["x-qmesh-route"].find(std::to_string(good.port())), std::string::npos);
  }
  EXPECT_TRUE(sawRetry);
}

TEST(ProxyErrors, FiveHundredBeforeFirstByteIsRetriedOnAnotherWorker) {
  FakeUpstream bad(plain(503, R"({"error":{"message":"Loading model"}})"));
  FakeUpstream good(plain(200));
  RouterHarness r(RouterHarness::config({workerOn(bad.port()), workerOn(good.port())}));
  // As above: vary the prompt until prefix affinity sends one to the failing worker first.
  // A 5xx does not mark the worker unreachable, so every prompt that lands there is retried.
  const std::string retryOnBad = "; retry after http_5xx on m@127.0.0.1:" + std::to_string(bad.port()) + ")";
  int retries = 0;
  for (int i = 0; i < 64 && retries == 0; ++i) {
    const std::string chat =
        R"({"model":"m","messages":[{"role":"user","content":"hi )" + std::to_string(i) + R"("}]})";
    auto res = httpPostJson(r.url("/v1/chat/completions"), chat);
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(res.body, R"({"ok":true})");
    const std::string route = res.headers["x-qmesh-route"];
    EXPECT_EQ(route.rfind("testnode/m@127.0.0.1:" + std::to_string(good.port()) + " (", 0), 0u) << route;
    retries += route.find(retryOnBad) != std::string::npos;
  }
  EXPECT_EQ(retries, 1) << "no prompt was ever tried on the failing worker first";
  EXPECT_EQ(bad.requests(), retries);  // every request it answered with 503 went on to the good one
}

TEST(ProxyErrors, FiveHundredWithNoOtherWorkerReachesTheClientUnchanged) {
  const std::string body = R"({"error":{"code":500,"message":"boom","type":"server_error"}})";
  FakeUpstream bad(plain(500, body));
  RouterHarness r(RouterHarness::config({workerOn(bad.port())}));
  auto res = httpPostJson(r.url("/v1/chat/completions"), kChat);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body, body);
}

TEST(ProxyErrors, OnlyWorkerRefusingIs503NoReadyWorker) {
  RouterHarness r(RouterHarness::config({workerOn(freeLoopbackPort())}));
  auto res = httpPostJson(r.url("/v1/chat/completions"), kChat);
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(errorCode(res), "no_ready_worker");
  EXPECT_NE(res.body.find("refused the connection"), std::string::npos) << res.body;
  EXPECT_FALSE(res.headers["retry-after"].empty());
  // Now known dead (for unreachable_hold, 2 s): answered without a connect at all.
  auto again = httpPostJson(r.url("/v1/chat/completions"), kChat);
  EXPECT_EQ(again.status, 503);
  EXPECT_EQ(errorCode(again), "no_ready_worker");
  EXPECT_NE(again.body.find("has no ready worker right now"), std::string::npos) << again.body;
  const auto worker = nlohmann::json::parse(httpGet(r.url("/api/status")).body)["models"][0]["workers"][0];
  EXPECT_EQ(worker["failures"], 1) << worker;  // one refused connect, not two
  EXPECT_EQ(worker["routable"], false) << worker;
  EXPECT_NE(httpGet(r.url("/metrics")).body.find("qmesh_router_upstream_errors_total{model=\"m\",kind=\"connect\"} 1\n"),
            std::string::npos);
}

TEST(ProxyErrors, FullQueueIs429AndQueueDeadlineIs503WithRetryAfter) {
  FakeUpstreamScript s;
  s.hangAfterHeader = true;
  FakeUpstream up(s);
  auto cfg = RouterHarness::config({workerOn(up.port(), 1)});
  cfg.queue_depth = 1;
  cfg.queue_timeout = milliseconds(400);
  RouterHarness r(cfg);
  std::thread holder([&] { httpPostJson(r.url("/v1/chat/completions"), kChat, {}, milliseconds(2000)); });
  ASSERT_TRUE(waitUntil([&] { return up.requests() == 1; }, milliseconds(2000)));
  HttpResponse queued;
  std::thread waiter([&] { queued = httpPostJson(r.url("/v1/chat/completions"), kChat); });
  ASSERT_TRUE(waitUntil([&] {
    return nlohmann::json::parse(httpGet(r.url("/api/status")).body)["models"][0]["queued"] == 1;
  }, milliseconds(2000)));
  auto full = httpPostJson(r.url("/v1/chat/completions"), kChat);
  EXPECT_EQ(full.status, 429);
  EXPECT_EQ(errorCode(full), "queue_full");
  EXPECT_FALSE(full.headers["retry-after"].empty());
  waiter.join();
  EXPECT_EQ(queued.status, 503);
  EXPECT_EQ(errorCode(queued), "queue_timeout");
  EXPECT_FALSE(queued.headers["retry-after"].empty());
  holder.join();
}

TEST(ProxyErrors, BodyOverTheLimitIs413) {
  FakeUpstream up;
  auto cfg = RouterHarness::config({workerOn(up.port())});
  cfg.max_body_bytes = 1024;
  RouterHarness r(cfg);
  const std::string big = R"({"model":"m","messages":[{"role":"user","content":")" + std::string(4096, 'x') + "\"}]}";
  auto res = httpPostJson(r.url("/v1/chat/completions"), big);
  EXPECT_EQ(res.status, 413) << res.error;
  EXPECT_EQ(errorCode(res), "request_too_large");
  EXPECT_EQ(res.headers["x-qmesh-route"], "testnode/router (local)");
  EXPECT_FALSE(res.headers["x-request-id"].empty());
  EXPECT_EQ(up.requests(), 0);
}

TEST(ProxyErrors, MissingOrWrongApiKeyIs401) {
  FakeUpstream up;
  auto cfg = RouterHarness::config({workerOn(up.port())});
  cfg.api_keys = {"sk-qmesh-test-1", "sk-qmesh-test-2"};
  RouterHarness r(cfg);
  auto missing = httpPostJson(r.url("/v1/chat/completions"), kChat);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(errorCode(missing), "invalid_api_key");
  auto post = [&](const std::string& key) {
    return httpPostJson(r.url("/v1/chat/completions"), kChat, {{"authorization", "Bearer " + key}}).status;
  };
  EXPECT_EQ(post("nope-nope"), 401);
  EXPECT_EQ(post("Sk-qmesh-test-1"), 401);  // same length, only the first byte differs
  EXPECT_EQ(post("sk-qmesh-test-3"), 401);  // same length, only the last byte differs
  EXPECT_EQ(up.requests(), 0);
  EXPECT_EQ(post("sk-qmesh-test-1"), 200);  // every configured key works, not just the last
  EXPECT_EQ(post("sk-qmesh-test-2"), 200);
  EXPECT_EQ(up.requests(), 2);
  // The operator pages name workers and peers: they are behind the key too.
  for (const char* path : {"/api/status", "/api/mesh"}) {
    auto open = httpGet(r.url(path));
    EXPECT_EQ(open.status, 401) << path;
    EXPECT_EQ(errorCode(open), "invalid_api_key") << path;
    EXPECT_EQ(httpRequest("GET", r.url(path), "", {{"authorization", "Bearer sk-qmesh-test-2"}}).status, 200) << path;
  }
}

TEST(ProxyErrors, UnknownModelIs404AndMalformedJsonIs400) {
  FakeUpstream up;
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  auto unknown = httpPostJson(r.url("/v1/chat/completions"), R"({"model":"nope","messages":[]})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(errorCode(unknown), "model_not_found");
  auto bad = httpPostJson(r.url("/v1/chat/completions"), "{\"model\":");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(errorCode(bad), "invalid_json");
  EXPECT_EQ(httpPostJson(r.url("/v1/chat/completions"), R"({"model":"m"})").status, 400);
  EXPECT_FALSE(bad.headers["x-request-id"].empty());
  EXPECT_EQ(up.requests(), 0);
}

TEST(ProxyErrors, SlowClientHeaderIsCutAtTheDeadline) {
  FakeUpstream up;
  auto cfg = RouterHarness::config({workerOn(up.port())});
  cfg.header_timeout = milliseconds(200);
  RouterHarness r(cfg);
  router::net::io_context io;
  router::tcp::socket sock(io);
  sock.connect({router::net::ip::make_address("127.0.0.1"), r.port()});
  router::net::write(sock, router::net::buffer(std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")));
  const auto t0 = steady_clock::now();
  std::string got;
  char buf[1024];
  boost::system::error_code ec;
  for (;;) {
    const std::size_t n = sock.read_some(router::net::buffer(buf), ec);
    if (ec) break;
    got.append(buf, n);
  }
  const auto waited = duration_cast<milliseconds>(steady_clock::now() - t0).count();
  EXPECT_GE(waited, 150);
  EXPECT_LT(waited, 1500);
  EXPECT_TRUE(got.empty()) << got;  // cut off: the connection closed without a response
}

TEST(ProxyErrors, LocalEndpointsAnswer) {
  FakeUpstream up;
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  auto models = nlohmann::json::parse(httpGet(r.url("/v1/models")).body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "m");
  EXPECT_EQ(models["data"][0]["object"], "model");
  auto health = httpGet(r.url("/health"));
  EXPECT_EQ(health.status, 200);
  httpPostJson(r.url("/v1/chat/completions"), kChat);
  auto metrics = httpGet(r.url("/metrics")).body;
  EXPECT_NE(metrics.find("qmesh_router_requests_total{model=\"m\",code=\"200\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("qmesh_router_time_to_first_byte_seconds_count{model=\"m\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("qmesh_router_sse_events_total{model=\"m\"}"), std::string::npos);
  auto status = nlohmann::json::parse(httpGet(r.url("/api/status")).body);
  EXPECT_EQ(status["node"], "testnode");
  EXPECT_EQ(status["mode"], "static");
  EXPECT_EQ(status["models"][0]["workers"][0]["served"], 1);
}

TEST(ProxyErrors, BeforeTheFirstSupervisorStatusModelRequestsAre503NotUnknownModel) {
  auto cfg = RouterHarness::config({});
  cfg.control = qmesh::HostPort{"127.0.0.1", freeLoopbackPort()};  // nobody listens there
  RouterHarness r(cfg);
  auto res = httpPostJson(r.url("/v1/chat/completions"), kChat);
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(errorCode(res), "no_ready_worker");
  EXPECT_NE(res.body.find("supervisor"), std::string::npos);
  auto status = nlohmann::json::parse(httpGet(r.url("/api/status")).body);
  EXPECT_EQ(status["mode"], "supervised");
  EXPECT_EQ(status["supervisor"]["reachable"], false);
}
