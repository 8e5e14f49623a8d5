// Hostile clients against a real router (in-process, a FakeUpstream behind it), over the
// wire: each case checks the answer and that the router still serves the next request.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <vector>

#include "tests/router/fake_upstream.h"
#include "tests/router/raw_http.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

using namespace qmesh;
using namespace qmesh::test;
using namespace std::chrono;
using router::StaticWorker;

namespace {


FakeUpstreamScript plainOk() {
  FakeUpstreamScript s;
  s.sse = false;
  s.body = R"({"ok":true})";
  return s;
}

router::RouterConfig configFor(const FakeUpstream& up) {
  return RouterHarness::config({StaticWorker{"m", "127.0.0.1", up.port(), 4}});
}

nlohmann::json errorOf(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) return nlohmann::json{{"code", "<not an OpenAI error: " + body + ">"}};
  return j["error"];
}

// Containers without IPv6 cannot bind [::1]; the [::] test needs it.
bool haveIpv6Loopback() {
  router::net::io_context io;
  router::tcp::acceptor a(io);
  boost::system::error_code ec;
  a.open(router::tcp::v6(), ec);
  if (!ec) a.bind({router::net::ip::make_address("::1"), 0}, ec);
  return !ec;
}

std::string hostHeader(const RouterHarness& r) { return "Host: 127.0.0.1:" + std::to_string(r.port()) + "\r\n"; }

}  // namespace

TEST(HostileInput, RejectsBodyNestedDeeperThan64AndKeepsServing) {
  FakeUpstream up(plainOk());
  RouterHarness r(configFor(up));
  // The body that used to kill the router with SIGSEGV (recursion in dump()).
  const std::string deep = R"({"model":"demo","messages":[)" + std::string(200000, '[') + std::string(200000, ']') + "]}";
  const auto res = httpPostJson(r.url("/v1/chat/completions"), deep);
  EXPECT_EQ(res.status, 400) << res.error;
  const auto e = errorOf(res.body);
  EXPECT_EQ(e["code"], "json_too_deep");
  EXPECT_NE(e["message"].get<std::string>().find("64"), std::string::npos) << res.body;
  EXPECT_EQ(httpPostJson(r.url("/v1/chat/completions"), kChat).status, 200);
  EXPECT_EQ(up.requests(), 1);
}

TEST(HostileInput, WrongFieldTypeIs400AndKeepsServing) {
  FakeUpstream up(plainOk());
  RouterHarness r(configFor(up));
  for (const char* body : {R"({"model":{"a":1},"messages":[]})", R"({"model":"m","messages":[["x"]]})",
                           R"({"model":"m","messages":[],"stream":"true"})"}) {
    const auto res = httpPostJson(r.url("/v1/chat/completions"), body);
    EXPECT_EQ(res.status, 400) << body;
    EXPECT_EQ(errorOf(res.body)["code"], "invalid_type") << body;
  }
  EXPECT_EQ(httpPostJson(r.url("/v1/chat/completions"), kChat).status, 200);
}

TEST(HostileInput, InvalidUtf8InPathAndModelNameGetsAValidJsonError) {
  FakeUpstream up(plainOk());
  RouterHarness r(configFor(up));
  RawConnection c(r.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /v1/\xff\xfe HTTP/1.1\r\n" + hostHeader(r) + "\r\n"));
  const std::string path = c.readResponse();
  EXPECT_EQ(statusOf(path), 404) << path;
  EXPECT_FALSE(nlohmann::json::parse(bodyOf(path), nullptr, false).is_discarded()) << path;
  const std::string body = "{\"model\":\"m\xff\xff\",\"messages\":[]}";
  ASSERT_TRUE(c.send("POST /v1/chat/completions HTTP/1.1\r\n" + hostHeader(r) +
                     "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                     body));
  const std::string model = c.readResponse();
  EXPECT_TRUE(statusOf(model) == 400 || statusOf(model) == 404) << model;
  EXPECT_FALSE(nlohmann::json::parse(bodyOf(model), nullptr, false).is_discarded()) << model;
  EXPECT_EQ(httpPostJson(r.url("/v1/chat/completions"), kChat).status, 200);
}

TEST(HostileInput, WrongKeyIsRefusedBeforeTheBodyIsSent) {
  FakeUpstream up(plainOk());
  auto cfg = configFor(up);
  cfg.api_keys = {"sk-hostile-test-1"};
  cfg.body_timeout = seconds(30);  // a router that waits for the body waits longer than the test
  RouterHarness r(cfg);
  RawConnection c(r.port());
  ASSERT_TRUE(c.connected());
  // Announces 4 MB (under max_body_bytes) and sends none of it.
  ASSERT_TRUE(c.send("POST /v1/chat/completions HTTP/1.1\r\n" + hostHeader(r) +
                     "Authorization: Bearer wrong-key-123\r\nContent-Type: application/json\r\n"
                     "Content-Length: 4000000\r\n\r\n"));
  const std::string res = c.readResponse(seconds(3));
  EXPECT_EQ(statusOf(res), 401) << res;
  EXPECT_EQ(errorOf(bodyOf(res))["code"], "invalid_api_key");
  EXPECT_TRUE(c.closedWithin(seconds(5))) << "the unread body makes the connection unusable";
  // The right key, in any case of "Bearer", still works.
  EXPECT_EQ(httpPostJson(r.url("/v1/chat/completions"), kChat, {{"authorization", "bearer sk-hostile-test-1"}}).status,
            200);
  EXPECT_EQ(httpPostJson(r.url("/v1/chat/completions"), kChat, {{"authorization", "BEARER sk-hostile-test-1"}}).status,
            200);
}

TEST(HostileInput, ConnectionsBeyondMaxConnectionsGet503WhenEveryOneIsBusyAndTheCapFreesUp) {
  FakeUpstream up(plainOk());
  auto cfg = configFor(up);
  cfg.max_connections = 2;
  cfg.body_timeout = seconds(30);  // the requests below must stay in progress
  RouterHarness r(cfg);
  // Each connection has a request in progress: its header is in (the router said "100
  // Continue"), its body is awaited.
  const std::string busy = "POST /v1/chat/completions HTTP/1.1\r\n" + hostHeader(r) +
                           "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n";
  auto first = std::make_unique<RawConnection>(r.port());
  RawConnection second(r.port());
  ASSERT_TRUE(first->connected() && second.connected());
  ASSERT_TRUE(first->send(busy) && second.send(busy));
  ASSERT_EQ(statusOf(first->readResponse()), 100);
  ASSERT_EQ(statusOf(second.readResponse()), 100);
  const auto refused = httpGet(r.url("/health"));
  EXPECT_EQ(refused.status, 503) << refused.error;
  EXPECT_EQ(errorOf(refused.body)["code"], "too_many_connections");
  EXPECT_FALSE(second.closedWithin(milliseconds(100))) << "a busy connection was evicted";
  first.reset();  // one slot frees up once the router notices the close
  EXPECT_TRUE(waitUntil([&] { return httpGet(r.url("/health")).status == 200; }, seconds(5)));
  const auto metrics = httpGet(r.url("/metrics"));
  // /metrics itself may have been the refused one while the cap was full; the first 503 counts.
  EXPECT_EQ(metrics.body.find("qmesh_router_connections_refused_total 0"), std::string::npos) << metrics.body;
}

// nginx's rule for reusable connections: idle sockets (never a request, or an idle
// keep-alive) cannot lock clients out; the one idle longest makes room for a newcomer.
TEST(HostileInput, AtMaxConnectionsANewConnectionEvictsTheLongestIdleOne) {
  FakeUpstream up(plainOk());
  auto cfg = configFor(up);
  cfg.max_connections = 2;
  cfg.header_timeout = seconds(30);  // idle connections stay unless evicted
  RouterHarness r(cfg);
  RawConnection oldest(r.port());
  ASSERT_TRUE(oldest.connected());
  // Never a request, then a served one kept alive: both wait for a header, `oldest` longer.
  RawConnection keptAlive(r.port());
  ASSERT_TRUE(keptAlive.send("GET /health HTTP/1.1\r\n" + hostHeader(r) + "\r\n"));
  ASSERT_EQ(statusOf(keptAlive.readResponse()), 200);
  const auto served = httpGet(r.url("/health"));
  EXPECT_EQ(served.status, 200) << served.body << served.error;
  EXPECT_TRUE(oldest.closedWithin(seconds(2))) << "the longest-idle connection was not evicted";
  // The other idle one survived and still serves.
  ASSERT_TRUE(keptAlive.send("GET /health HTTP/1.1\r\n" + hostHeader(r) + "\r\n"));
  EXPECT_EQ(statusOf(keptAlive.readResponse()), 200);
  const auto metrics = httpGet(r.url("/metrics")).body;
  EXPECT_EQ(metrics.find("qmesh_router_connections_evicted_total 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("qmesh_router_connections_refused_total 0"), std::string::npos) << metrics;
}

TEST(HostileInput, ForeignHostIsRefusedWithoutKeys) {
  FakeUpstream up(plainOk());
  RouterHarness r(configFor(up));
  const std::string port = std::to_string(r.port());
  const auto rebound =
      httpPostJson(r.url("/v1/chat/completions"), kChat, {{"host", "attacker.example:" + port}});
  EXPECT_EQ(rebound.status, 403);
  EXPECT_EQ(errorOf(rebound.body)["code"], "forbidden_origin");
  EXPECT_EQ(httpRequest("GET", r.url("/api/status"), "", {{"host", "attacker.example:" + port}}).status, 403);
  EXPECT_EQ(httpRequest("GET", r.url("/health"), "", {{"host", "localhost:" + port}}).status, 200);
  EXPECT_EQ(httpPostJson(r.url("/v1/chat/completions"), kChat).status, 200);  // Host: 127.0.0.1:PORT
  EXPECT_EQ(up.requests(), 1);
}

TEST(HostileInput, CrossOriginPostIsRefusedWithoutKeys) {
  FakeUpstream up(plainOk());
  RouterHarness r(configFor(up));
  const std::string port = std::to_string(r.port());
  const auto foreign = httpPostJson(r.url("/v1/chat/completions"), kChat, {{"origin", "http://attacker.example"}});
  EXPECT_EQ(foreign.status, 403);
  EXPECT_EQ(errorOf(foreign.body)["code"], "forbidden_origin");
  EXPECT_EQ(httpPostJson(r.url("/v1/chat/completions"), kChat, {{"origin", "http://localhost:" + port}}).status, 200);
  EXPECT_EQ(up.requests(), 1);
}

TEST(HostileInput, WithKeysAnyHostAndOriginIsServed) {
  FakeUpstream up(plainOk());
  auto cfg = configFor(up);
  cfg.api_keys = {"sk-hostile-test-1"};
  RouterHarness r(cfg);
  const auto res = httpPostJson(r.url("/v1/chat/completions"), kChat,
                                {{"authorization", "Bearer sk-hostile-test-1"}, {"host", "my-box.lan:8080"},
                                 {"origin", "http://my-app.lan"}});
  EXPECT_EQ(res.status, 200) << res.body;
}

TEST(HostileInput, ServesOnIpv6WildcardWithHealthAndKeys) {
  if (!haveIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback here";
  FakeUpstream up(plainOk());
  auto cfg = configFor(up);
  cfg.listen = {"::", 0};
  cfg.api_keys = {"sk-hostile-test-1"};
  RouterHarness r(cfg);
  // The supervisor polls http://127.0.0.1:PORT/health: IPv4 must reach a [::] listener.
  EXPECT_EQ(httpGet(r.url("/health")).status, 200);
  const std::string v6 = "http://[::1]:" + std::to_string(r.port());
  EXPECT_EQ(httpPostJson(v6 + "/v1/chat/completions", kChat).status, 401);
  EXPECT_EQ(httpPostJson(v6 + "/v1/chat/completions", kChat, {{"authorization", "Bearer sk-hostile-test-1"}}).status,
            200);
}
