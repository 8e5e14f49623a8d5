// Mesh hops served on the authenticated data-plane channel (router/proxy/hop_session.h):
// a real SecureChannel pair on loopback, a HopSession on one end over RouterServices whose
// worker is a FakeUpstream, requests written on the other end as router A would. And the
// other side of the rule: hop headers on a plain HTTP connection make no hop.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>

#include "router/proxy/hop_session.h"
#include "router/router_services.h"
#include "tests/dataplane/test_loop.h"
#include "tests/router/fake_upstream.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

namespace qmesh::router {
namespace {

using dataplane::SecureChannel;
using membership::Identity;
using membership::NodeId;
using test::FakeUpstream;
using test::FakeUpstreamScript;
using test::kStreamingChat;
using namespace dataplane::test;
using namespace std::chrono;


class HopSessionTest : public ::testing::Test {
 protected:
  void start(FakeUpstreamScript script = {}) {
    std::signal(SIGPIPE, SIG_IGN);
    upstream = std::make_unique<FakeUpstream>(script);
    auto cfg = test::RouterHarness::config({});
    cfg.node_name = "b";
    cfg.api_keys = {"secret"};  // a hop needs none: its sender is an authenticated member
    services = std::make_shared<RouterServices>(cfg, clock);
    StatusSnapshot s;
    s.node = "b";
    s.workers.push_back(WorkerInfo{"m", "127.0.0.1", upstream->port(), 2, WorkerState::Ready, 0, false, 0});
    services->context.directory.apply(s);
    // A model only another node serves: a hop for it must not be forwarded again.
    WorkerInfo remote{"elsewhere", "", 0, 2, WorkerState::Ready, 0, false, 0};
    remote.remote = true;
    remote.node = "c";
    remote.peer = identityFromByte(7).id();
    remote.dataAddress = "127.0.0.1:9";
    services->context.directory.applyRemote("c", {remote});
    services->context.directoryLoaded = true;

    tcp::acceptor acceptor = loopbackAcceptor(io);
    tcp::socket accepted(io);
    auto acc = spawn(io, acceptInto(acceptor, accepted));
    auto connected = spawn(io, client.connect("127.0.0.1", acceptor.local_endpoint().port(), alice, bob.id(), 5s));
    ASSERT_TRUE(runUntil(io, [&] { return acc->has_value(); }));
    SecureChannel server(std::move(accepted));
    auto hs = spawn(io, server.handshakeAsServer(bob, [](const NodeId&) { return true; }, 5s));
    ASSERT_TRUE(runUntil(io, [&] { return connected->has_value() && hs->has_value(); }));
    ASSERT_FALSE(**connected);
    ASSERT_FALSE(**hs);
    std::make_shared<HopSession>(std::move(server), "a", services)->start();
  }

  http::request<http::string_body> hop(const std::string& body, const char* hops = "1") {
    http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
    req.set(http::field::host, "b");
    req.set(http::field::content_type, "application/json");
    if (hops) req.set(kHopCountHeader, hops);
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }

  // One exchange on the channel, as router A's MeshUpstream makes it.
  http::response<http::string_body> exchange(http::request<http::string_body> req) {
    auto res = std::make_shared<http::response<http::string_body>>();
    auto done = spawn(io, [](SecureChannel& ch, beast::flat_buffer& buf, http::request<http::string_body> r,
                             std::shared_ptr<http::response<http::string_body>> out) -> net::awaitable<error_code> {
      error_code ec;
      co_await http::async_write(ch, r, awaitEc(ec));
      if (!ec) co_await http::async_read(ch, buf, *out, awaitEc(ec));
      co_return ec;
    }(client, buffer, std::move(req), res));
    EXPECT_TRUE(runUntil(io, [&] { return done->has_value(); }, 10s));
    EXPECT_TRUE(done->has_value() && !**done) << (done->has_value() ? (**done).message() : "timed out");
    return *res;
  }

  static std::string errorCode(const http::response<http::string_body>& res) {
    return nlohmann::json::parse(res.body())["error"]["code"].get<std::string>();
  }

  qmesh::SteadyClock clock;  // outlives io, whose handlers may still hold the session
  net::io_context io;
  Identity alice = identityFromByte(1);  // router A, the sender
  Identity bob = identityFromByte(2);    // router B, which serves the hop
  std::unique_ptr<FakeUpstream> upstream;
  std::shared_ptr<RouterServices> services;
  SecureChannel client{io.get_executor()};
  beast::flat_buffer buffer;
};

TEST_F(HopSessionTest, ServesAHopOnTheChannelWithoutAnApiKey) {
  start();
  const auto res = exchange(hop(kStreamingChat));
  EXPECT_EQ(res.result_int(), 200) << res.body();
  EXPECT_NE(res.body().find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(std::string(res["x-qmesh-route"]).rfind("b/m@127.0.0.1:", 0), 0u) << res["x-qmesh-route"];
  EXPECT_EQ(upstream->requests(), 1);
  EXPECT_EQ(services->sessions.hopSessions(), 1);
}

TEST_F(HopSessionTest, KeepsTheChannelForTheNextRequest) {
  FakeUpstreamScript s;
  s.sse = false;
  start(s);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(exchange(hop(kStreamingChat)).result_int(), 200);
  EXPECT_EQ(upstream->requests(), 3);
}

TEST_F(HopSessionTest, HopClaimingAnEarlierHopIsRefusedAsALoop) {
  start();
  const auto res = exchange(hop(kStreamingChat, "2"));
  EXPECT_EQ(res.result_int(), 508) << res.body();
  EXPECT_EQ(errorCode(res), "loop_detected");
  EXPECT_EQ(upstream->requests(), 0);
}

TEST_F(HopSessionTest, HopWithoutAHopCountIsRefusedAsALoop) {
  start();
  const auto res = exchange(hop(kStreamingChat, nullptr));
  EXPECT_EQ(res.result_int(), 508) << res.body();
  EXPECT_EQ(errorCode(res), "loop_detected");
}

// Router A's directory was stale: it thought b served "elsewhere". b must not send the hop
// on to c (or back to a): a 503 tells a to try another worker.
TEST_F(HopSessionTest, HopForAModelNoLocalWorkerServesIsNeverForwardedAgain) {
  start();
  const auto res = exchange(hop(R"({"model":"elsewhere","messages":[{"role":"user","content":"hi"}]})"));
  EXPECT_EQ(res.result_int(), 503) << res.body();
  EXPECT_EQ(errorCode(res), "no_local_worker");
  EXPECT_EQ(res[http::field::content_type], "application/json");
}

// Router A's client hung up: A closes the channel without FINAL, and b lets the worker go.
TEST_F(HopSessionTest, ChannelClosedMidStreamClosesTheUpstreamWithin100ms) {
  FakeUpstreamScript s;
  s.events = 3;
  s.pauseAfterFirst = milliseconds(10000);
  start(s);
  auto req = hop(kStreamingChat);
  auto wrote = spawn(io, [](SecureChannel& ch, http::request<http::string_body> r) -> net::awaitable<error_code> {
    error_code ec;
    co_await http::async_write(ch, r, awaitEc(ec));
    co_return ec;
  }(client, std::move(req)));
  // The header and the first event.
  auto first = spawn(io, [](SecureChannel& ch) -> net::awaitable<std::string> {
    std::string got;
    char buf[4096];
    error_code ec;
    while (!ec && got.find("data:") == std::string::npos)
      got.append(buf, co_await ch.async_read_some(net::buffer(buf), awaitEc(ec)));
    co_return got;
  }(client));
  ASSERT_TRUE(runUntil(io, [&] { return first->has_value(); }, 5s));
  ASSERT_NE((*first)->find("data:"), std::string::npos) << **first;
  const auto closedAt = steady_clock::now();
  client.close();
  ASSERT_TRUE(runUntil(io, [&] { return upstream->lastPeerClose().has_value(); }, 2s));
  EXPECT_LT(duration_cast<milliseconds>(*upstream->lastPeerClose() - closedAt).count(), 100);
  ASSERT_TRUE(runUntil(io, [&] { return services->sessions.hopSessions() == 0; }, 2s));
}

// A plain connection to b's HTTP port from 127.0.0.1 that carries hop headers is an
// ordinary client: it needs the API key, and it is not logged as coming from another node.
TEST(HopHeaders, OnAPlainHttpConnectionMakeNoHopAndNeedTheApiKey) {
  FakeUpstreamScript s;
  s.sse = false;
  FakeUpstream up(s);
  auto cfg = test::RouterHarness::config({StaticWorker{"m", "127.0.0.1", up.port(), 2}});
  cfg.api_keys = {"secret"};
  test::RouterHarness r(cfg);
  const std::map<std::string, std::string> forged = {{kHopCountHeader, "1"}, {"x-qmesh-hop", "a"}};
  auto res = test::httpPostJson(r.url("/v1/chat/completions"), kStreamingChat, forged);
  EXPECT_EQ(res.status, 401) << res.body;
  EXPECT_EQ(up.requests(), 0);
  auto withKey = forged;
  withKey["Authorization"] = "Bearer secret";
  res = test::httpPostJson(r.url("/v1/chat/completions"), kStreamingChat, withKey);
  EXPECT_EQ(res.status, 200) << res.body;
}

// Issue 10, part 3: another router asks this node to load a model (proxy/hop_load.h). It is
// answered once the model is ready here; the slot it waited for goes back at once.
http::request<http::string_body> loadRequestFor(const std::string& model, http::verb verb = http::verb::post) {
  http::request<http::string_body> req{verb, "/qmesh/load/" + model, 11};
  req.set(http::field::host, "b");
  req.set(kHopCountHeader, "1");
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

TEST_F(HopSessionTest, LoadRequestForAReadyModelIsAnsweredReadyAndTakesNoSlot) {
  start();
  const auto res = exchange(loadRequestFor("m"));
  EXPECT_EQ(res.result_int(), 200) << res.body();
  EXPECT_EQ(nlohmann::json::parse(res.body()).value("state", ""), "ready") << res.body();
  EXPECT_EQ(services->context.directory.workersOf("m").at(0)->outstanding, 0) << "the slot was not given back";
  EXPECT_EQ(upstream->requests(), 0) << "a load request reached the worker";
}

TEST_F(HopSessionTest, LoadRequestForAModelWithNoWorkerHereIs404AndNeverForwarded) {
  start();
  const auto res = exchange(loadRequestFor("elsewhere"));
  EXPECT_EQ(res.result_int(), 404) << res.body();
  EXPECT_EQ(errorCode(res), "model_not_found");
}

TEST_F(HopSessionTest, LoadRequestThatCannotBeServedHereSaysWhy) {
  start();
  StatusSnapshot s;
  s.node = "b";
  s.workers.push_back(WorkerInfo{"m", "127.0.0.1", upstream->port(), 2, WorkerState::Failed, 0, false, 0});
  services->context.directory.apply(s);
  const auto res = exchange(loadRequestFor("m"));
  EXPECT_EQ(res.result_int(), 503) << res.body();
  EXPECT_EQ(errorCode(res), "no_ready_worker");
}

TEST_F(HopSessionTest, LoadRequestMustBeAPostWithAValidName) {
  start();
  auto res = exchange(loadRequestFor("m", http::verb::get));
  EXPECT_EQ(res.result_int(), 405) << res.body();
  res = exchange(loadRequestFor("bad%20name"));
  EXPECT_EQ(res.result_int(), 400) << res.body();
  EXPECT_EQ(errorCode(res), "invalid_model");
}

}  // namespace
}  // namespace qmesh::router
