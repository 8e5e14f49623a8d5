// DataPlaneListener end to end on loopback: a client SecureChannel (router A) -> listener
// (router B), which authenticates it and hands the channel to its owner (B's router serves
// the hop on it: router/proxy/hop_session.h).
#include "router/dataplane/listener.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/dataplane/test_loop.h"

namespace qmesh::dataplane {
namespace {

using namespace test;

class ListenerTest : public ::testing::Test {
 protected:
  void startListener(const std::function<void(DataPlaneListenerOptions&)>& tweak = {}) {
    DataPlaneListenerOptions o;
    o.accept = [this](const NodeId& id) { return members.count(id) > 0; };
    o.onChannel = [this](SecureChannel ch) { served.push_back(std::move(ch)); };
    if (tweak) tweak(o);
    listener = std::make_unique<DataPlaneListener>(io.get_executor(), bob, o);
    ASSERT_FALSE(listener->open({"127.0.0.1", 0}));
    listener->start();
  }

  error_code connect(SecureChannel& ch, const NodeId& expected) {
    return runCoro(io, ch.connect("127.0.0.1", listener->port(), alice, expected, 5s));
  }

  const DataPlaneCounters& counters() const { return listener->counters(); }

  net::io_context io;
  Identity alice = identityFromByte(1);  // the forwarding router
  Identity bob = identityFromByte(2);    // the router that owns the listener
  Identity carol = identityFromByte(3);
  std::set<NodeId> members{alice.id()};
  std::vector<SecureChannel> served;
  std::unique_ptr<DataPlaneListener> listener;
};

TEST_F(ListenerTest, HandsTheAuthenticatedChannelToItsOwnerWithThePeersId) {
  startListener();
  SecureChannel client(io.get_executor());
  ASSERT_FALSE(connect(client, bob.id()));
  ASSERT_TRUE(runUntil(io, [&] { return served.size() == 1; }));
  EXPECT_EQ(served[0].peer(), alice.id());
  EXPECT_EQ(counters().authenticated, 1u);
  EXPECT_EQ(counters().pendingHandshakes, 0u);
  // The owner's channel carries bytes both ways, sealed.
  EXPECT_FALSE(runCoro(io, writeString(client, "request")));
  ASSERT_FALSE(runCoro(io, client.sendFinal()));
  EXPECT_EQ(runCoro(io, readAll(served[0])).data, "request");
  EXPECT_FALSE(runCoro(io, writeString(served[0], "response")));
  ASSERT_FALSE(runCoro(io, served[0].sendFinal()));
  const auto r = runCoro(io, readAll(client));
  EXPECT_EQ(r.data, "response");
  EXPECT_EQ(r.ec, net::error::eof);
}

TEST_F(ListenerTest, WithoutAnOwnerTheChannelIsClosed) {
  startListener([](DataPlaneListenerOptions& o) { o.onChannel = nullptr; });
  SecureChannel client(io.get_executor());
  ASSERT_FALSE(connect(client, bob.id()));
  EXPECT_EQ(runCoro(io, readAll(client)).ec, dataplane_errc::truncated);
}

TEST_F(ListenerTest, RejectedPeerIsCountedAndNeverHandedOver) {
  members.clear();
  startListener();
  SecureChannel client(io.get_executor());
  EXPECT_EQ(connect(client, bob.id()), dataplane_errc::peer_rejected);
  ASSERT_TRUE(runUntil(io, [&] { return counters().handshakeFailures(dataplane_errc::peer_rejected) == 1; }));
  EXPECT_TRUE(served.empty());
  EXPECT_EQ(counters().authenticated, 0u);
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
  EXPECT_TRUE(served.empty());
}

TEST_F(ListenerTest, ReportsAddressInUse) {
  startListener();
  DataPlaneListener second(io.get_executor(), bob, {});
  EXPECT_EQ(second.open({"127.0.0.1", listener->port()}), net::error::address_in_use);
}

TEST_F(ListenerTest, StopClosesPendingHandshakesAndHandsNothingOverAfterwards) {
  startListener();
  tcp::socket silent(io);
  silent.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), listener->port()));
  ASSERT_TRUE(runUntil(io, [&] { return counters().pendingHandshakes == 1; }));
  listener->stop();
  EXPECT_TRUE(runCoro(io, readAll(silent)).ec);
  listener.reset();  // handshakes still unwinding must not touch the destroyed listener
  io.poll();
  EXPECT_TRUE(served.empty()) << "no callback after stop()";
}

}  // namespace
}  // namespace qmesh::dataplane
