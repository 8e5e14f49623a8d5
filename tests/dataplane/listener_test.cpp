// DataPlaneListener end to end on loopback: a client SecureChannel (router A) -> listener
// (router B) -> bridge -> a tiny local target standing in for B's router HTTP listener.
#include "router/dataplane/listener.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/dataplane/test_loop.h"

namespace qmesh::dataplane {
namespace {

using namespace test;
using router::awaitEc;
namespace http = router::http;

class ListenerTest : public ::testing::Test {
 protected:
  void startListener(const std::function<void(DataPlaneListenerOptions&)>& tweak = {}) {
    DataPlaneListenerOptions o;
    o.target = {"127.0.0.1", targetPort};
    o.accept = [this](const NodeId& id) { return members.count(id) > 0; };
    o.onBridgeOpen = [this](uint16_t port, const NodeId& peer) { opened.emplace_back(port, peer); };
    o.onBridgeClosed = [this](uint16_t port) { closed.push_back(port); };
    if (tweak) tweak(o);
    listener = std::make_unique<DataPlaneListener>(io.get_executor(), bob, o);
    ASSERT_FALSE(listener->open({"127.0.0.1", 0}));
    listener->start();
  }

  error_code connect(SecureChannel& ch, const NodeId& expected) {
    return runCoro(io, ch.connect("127.0.0.1", listener->port(), alice, expected, 5s));
  }

  // Connects a client and accepts the bridge's connection on the target.
  void openBridge(SecureChannel& client, tcp::socket& targetSide) {
    auto accepted = spawn(io, acceptInto(target, targetSide));
    ASSERT_FALSE(connect(client, bob.id()));
    ASSERT_TRUE(runUntil(io, [&] { return accepted->has_value(); }));
    ASSERT_TRUE(runUntil(io, [&] { return opened.size() == 1; }));
  }

  const DataPlaneCounters& counters() const { return listener->counters(); }

  net::io_context io;
  Identity alice = identityFromByte(1);  // the forwarding router
  Identity bob = identityFromByte(2);    // the router that owns the listener
  Identity carol = identityFromByte(3);
  std::set<NodeId> members{alice.id()};
  tcp::acceptor target = loopbackAcceptor(io);
  uint16_t targetPort = target.local_endpoint().port();
  std::vector<std::pair<uint16_t, NodeId>> opened;
  std::vector<uint16_t> closed;
  std::unique_ptr<DataPlaneListener> listener;
};

// The target: one request, one response, close (like the router with Connection: close).
struct TargetLog {
  bool bridgeKnownBeforeFirstByte = false;
  std::string target;
};

net::awaitable<error_code> serveHttpOnce(tcp::socket& s, const std::vector<std::pair<uint16_t, NodeId>>& opened,
                                         TargetLog& log) {
  error_code ec;
  const uint16_t remotePort = s.remote_endpoint(ec).port();
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  co_await http::async_read(s, buf, req, awaitEc(ec));
  if (ec) co_return ec;
  log.bridgeKnownBeforeFirstByte = opened.size() == 1 && opened[0].first == remotePort;
  log.target = std::string(req.target());
  http::response<http::string_body> res{http::status::ok, 11};
  res.keep_alive(false);
  res.body() = "hello from bob";
  res.prepare_payload();
  co_await http::async_write(s, res, awaitEc(ec));
  s.shutdown(tcp::socket::shutdown_send, ec);
  s.close(ec);
  co_return ec;
}

net::awaitable<error_code> requestOverChannel(SecureChannel& ch, http::response<http::string_body>& res) {
  error_code ec;
  http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
  req.set(http::field::host, "mesh");
  req.body() = R"({"model":"demo","stream":true})";
  req.prepare_payload();
  co_await http::async_write(ch, req, awaitEc(ec));
  beast::flat_buffer buf;
  if (!ec) co_await http::async_read(ch, buf, res, awaitEc(ec));
  co_return ec;
}

TEST_F(ListenerTest, BridgesAnHttpExchangeAndReportsPeerAndPortBeforeAnyByte) {
  startListener();
  SecureChannel client(io.get_executor());
  tcp::socket targetSide(io);
  openBridge(client, targetSide);
  const uint16_t bridgePort = targetSide.remote_endpoint().port();
  EXPECT_EQ(opened[0].first, bridgePort);
  EXPECT_EQ(opened[0].second, alice.id());

  TargetLog log;
  http::response<http::string_body> res;
  auto served = spawn(io, serveHttpOnce(targetSide, opened, log));
  EXPECT_FALSE(runCoro(io, requestOverChannel(client, res)));
  EXPECT_EQ(res.body(), "hello from bob");
  EXPECT_TRUE(log.bridgeKnownBeforeFirstByte);
  EXPECT_EQ(log.target, "/v1/chat/completions");
  // The target closed: the client gets a clean, authenticated end of stream.
  EXPECT_EQ(runCoro(io, readAll(client)).ec, net::error::eof);
  client.close();
  ASSERT_TRUE(runUntil(io, [&] { return closed.size() == 1; }));
  EXPECT_EQ(closed[0], bridgePort);
  EXPECT_EQ(counters().accepted, 1u);
  EXPECT_EQ(counters().bridged, 1u);
  EXPECT_EQ(counters().activeBridges, 0u);
  EXPECT_GT(counters().bytesFromPeers, 0u);
  EXPECT_GT(counters().bytesToPeers, 0u);
}

TEST_F(ListenerTest, ClientVanishingWithoutFinalClosesTheTargetPromptly) {
  startListener();
  SecureChannel client(io.get_executor());
  tcp::socket targetSide(io);
  openBridge(client, targetSide);
  const std::string partial = "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{";
  EXPECT_FALSE(runCoro(io, writeString(client, partial)));
  EXPECT_EQ(runCoro(io, readAll(targetSide, partial.size())).data, partial);

  const auto start = std::chrono::steady_clock::now();
  client.close();  // node A's client went away: no FINAL
  const auto r = runCoro(io, readAll(targetSide));
  EXPECT_TRUE(r.ec == net::error::eof || r.ec == net::error::connection_reset) << r.ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "well before any linger or timeout";
  ASSERT_TRUE(runUntil(io, [&] { return closed.size() == 1; }));
}

TEST_F(ListenerTest, TargetClosingReachesTheClientAsEof) {
  startListener();
  SecureChannel client(io.get_executor());
  tcp::socket targetSide(io);
  openBridge(client, targetSide);
  EXPECT_FALSE(runCoro(io, writeString(targetSide, "data: [DONE]\n\n")));
  targetSide.shutdown(tcp::socket::shutdown_send);
  const auto r = runCoro(io, readAll(client));
  EXPECT_EQ(r.data, "data: [DONE]\n\n");
  EXPECT_EQ(r.ec, net::error::eof) << "FINAL, not truncated";
}

TEST_F(ListenerTest, ClientFinalHalfClosesTheTarget) {
  startListener();
  SecureChannel client(io.get_executor());
  tcp::socket targetSide(io);
  openBridge(client, targetSide);
  EXPECT_FALSE(runCoro(io, writeString(client, "request")));
  EXPECT_FALSE(runCoro(io, client.sendFinal()));
  const auto atTarget = runCoro(io, readAll(targetSide));
  EXPECT_EQ(atTarget.data, "request");
  EXPECT_EQ(atTarget.ec, net::error::eof);
  EXPECT_FALSE(runCoro(io, writeString(targetSide, "response")));
  targetSide.close();
  const auto atClient = runCoro(io, readAll(client));
  EXPECT_EQ(atClient.data, "response");
  EXPECT_EQ(atClient.ec, net::error::eof);
  ASSERT_TRUE(runUntil(io, [&] { return closed.size() == 1; })) << "both directions ended: no linger";
}

net::awaitable<error_code> sendAll(SecureChannel& ch, const std::string& s) {
  error_code ec = co_await writeString(ch, s);
  if (!ec) ec = co_await ch.sendFinal();
  co_return ec;
}

TEST_F(ListenerTest, BridgeCarriesBulkDataBothWaysIntact) {
  startListener();
  SecureChannel client(io.get_executor());
  tcp::socket targetSide(io);
  openBridge(client, targetSide);
  std::string up(3 << 20, '\0'), down(3 << 20, '\0');
  for (std::size_t i = 0; i < up.size(); ++i) up[i] = static_cast<char>(i * 7 + i / 4096);
  for (std::size_t i = 0; i < down.size(); ++i) down[i] = static_cast<char>(i * 13 + i / 999);
  auto sent = spawn(io, sendAll(client, up));
  const auto atTarget = runCoro(io, readAll(targetSide), 30s);
  EXPECT_EQ(atTarget.ec, net::error::eof);
  EXPECT_TRUE(atTarget.data == up) << atTarget.data.size() << " of " << up.size();
  EXPECT_FALSE(runCoro(io, writeString(targetSide, down), 30s));
  targetSide.close();
  const auto atClient = runCoro(io, readAll(client), 30s);
  EXPECT_EQ(atClient.ec, net::error::eof);
  EXPECT_TRUE(atClient.data == down) << atClient.data.size() << " of " << down.size();
  EXPECT_EQ(counters().bytesFromPeers, up.size());
  EXPECT_EQ(counters().bytesToPeers, down.size());
}

TEST_F(ListenerTest, TargetResetTruncatesTheClient) {
  startListener();
  SecureChannel client(io.get_executor());
  tcp::socket targetSide(io);
  openBridge(client, targetSide);
  targetSide.set_option(net::socket_base::linger(true, 0));  // close() sends RST
  targetSide.close();
  EXPECT_EQ(runCoro(io, readAll(client)).ec, dataplane_errc::truncated);
}

TEST_F(ListenerTest, RejectedPeerIsCountedAndNeverBridged) {
  members.clear();
  startListener();
  SecureChannel client(io.get_executor());
  EXPECT_EQ(connect(client, bob.id()), dataplane_errc::peer_rejected);
  ASSERT_TRUE(runUntil(io, [&] { return counters().handshakeFailures(dataplane_errc::peer_rejected) == 1; }));
  EXPECT_TRUE(opened.empty());
  EXPECT_EQ(counters().bridged, 0u);
}

TEST_F(ListenerTest, HandshakeFailuresAreCountedByReason) {
  startListener([](DataPlaneListenerOptions& o) { o.handshakeTimeout = 200ms; });
  const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), listener->port());
  members.insert(carol.id());  // a member's id, or membership would refuse the forgery first

  tcp::socket forged(io), garbage(io), silent(io);
  ClientHandshake hs(alice, bob.id());
  auto hello = hs.hello();
  std::copy(carol.id().bytes.begin(), carol.id().bytes.end(), hello.begin() + kPrefixBytes);
  forged.connect(ep);
  net::write(forged, net::buffer(hello));
  garbage.connect(ep);
  net::write(garbage, net::buffer(std::string("GET / HTTP/1.1\r\n\r\n")));
  silent.connect(ep);
  SecureChannel misdirected(io.get_executor());
  EXPECT_EQ(connect(misdirected, carol.id()), dataplane_errc::wrong_peer);

  ASSERT_TRUE(runUntil(io, [&] {
    return counters().handshakeFailures(dataplane_errc::bad_signature) == 1 &&
           counters().handshakeFailures(dataplane_errc::bad_hello) == 1 &&
           counters().handshakeFailures(dataplane_errc::handshake_timeout) == 1 &&
           counters().handshakeFailures(dataplane_errc::wrong_peer) == 1;
  }));
  EXPECT_EQ(counters().accepted, 4u);
  EXPECT_TRUE(opened.empty());
}

TEST_F(ListenerTest, ReportsAddressInUse) {
  startListener();
  DataPlaneListener second(io.get_executor(), bob, {});
  EXPECT_EQ(second.open({"127.0.0.1", listener->port()}), net::error::address_in_use);
}

TEST_F(ListenerTest, UnreachableTargetIsCountedAndTheClientSeesTheEnd) {
  target.close();  // nothing listens on targetPort now
  startListener();
  SecureChannel client(io.get_executor());
  ASSERT_FALSE(connect(client, bob.id()));
  EXPECT_EQ(runCoro(io, readAll(client)).ec, dataplane_errc::truncated);
  EXPECT_EQ(counters().targetConnectFailures, 1u);
  EXPECT_TRUE(opened.empty());
}

TEST_F(ListenerTest, StopClosesEveryBridgeAndReportsItAtOnce) {
  startListener();
  SecureChannel client(io.get_executor());
  tcp::socket targetSide(io);
  openBridge(client, targetSide);
  listener->stop();
  ASSERT_EQ(closed.size(), 1u) << "reported synchronously";
  EXPECT_EQ(counters().activeBridges, 0u);
  EXPECT_TRUE(runCoro(io, readAll(client)).ec);
  EXPECT_TRUE(runCoro(io, readAll(targetSide)).ec);
  listener.reset();  // bridges still unwinding must not touch the destroyed listener
  io.poll();
  EXPECT_EQ(closed.size(), 1u) << "no callback after stop()";
}

}  // namespace
}  // namespace qmesh::dataplane
