// Both ends of a data-plane channel carry the keepalive and TCP_USER_TIMEOUT settings derived
// from router.header_timeout (dataplane/tcp_liveness.h): the forwarding side as
// connectMeshChannel (MeshUpstream) leaves it, the accepting side as DataPlaneListener accepts it.
// Both live in this process, so the test finds each end among its own descriptors by port
// and asks the kernel what it holds.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <optional>

#include "router/dataplane/listener.h"
#include "router/dataplane/tcp_liveness.h"
#include "router/proxy/mesh_upstream.h"
#include "tests/dataplane/test_loop.h"
#include "tests/router/own_sockets.h"

namespace qmesh::dataplane {
namespace {

using namespace test;

int tcpOption(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(::getsockopt(fd, level, name, &v, &len), 0) << "option " << name;
  return v;
}

void expectLiveness(int fd, const char* side) {
  const TcpLiveness want = tcpLivenessFor(std::chrono::milliseconds(3000));
  EXPECT_EQ(tcpOption(fd, SOL_SOCKET, SO_KEEPALIVE), 1) << side;
  EXPECT_EQ(tcpOption(fd, IPPROTO_TCP, TCP_KEEPIDLE), want.idle.count()) << side;
  EXPECT_EQ(tcpOption(fd, IPPROTO_TCP, TCP_KEEPINTVL), want.interval.count()) << side;
  EXPECT_EQ(tcpOption(fd, IPPROTO_TCP, TCP_KEEPCNT), want.probes) << side;
  EXPECT_EQ(tcpOption(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 3000) << side;
}

TEST(MeshHopLiveness, BothEndsOfADataPlaneChannelDetectASilentPeer) {
  net::io_context io;
  const Identity alice = identityFromByte(1), bob = identityFromByte(2);
  std::vector<SecureChannel> served;  // bob's ends, kept open as a HopSession would
  DataPlaneListenerOptions o;
  o.onChannel = [&](SecureChannel c) { served.push_back(std::move(c)); };
  o.accept = [&](const NodeId& id) { return id == alice.id(); };
  o.silentPeerLimit = std::chrono::milliseconds(3000);
  DataPlaneListener listener(io.get_executor(), bob, o);
  ASSERT_FALSE(listener.open({"127.0.0.1", 0}));
  listener.start();
  const uint16_t dataPort = listener.port();

  SecureChannel channel(io.get_executor());
  const error_code ec = runCoro(io, router::connectMeshChannel(channel, "127.0.0.1:" + std::to_string(dataPort),
                                                               bob.id(), alice, 5s, std::chrono::milliseconds(3000)));
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(runUntil(io, [&] { return listener.counters().authenticated == 1; }));

  std::optional<qmesh::test::OwnSocket> forwarding, accepting;
  const auto sockets = qmesh::test::connectedSockets();
  for (const auto& so : sockets)
    if (so.peerPort == dataPort) forwarding = so;
  ASSERT_TRUE(forwarding) << "the forwarding end is not among this process's fds";
  for (const auto& so : sockets)
    if (so.localPort == dataPort && so.peerPort == forwarding->localPort) accepting = so;
  ASSERT_TRUE(accepting) << "the accepting end is not among this process's fds";
  expectLiveness(forwarding->fd, "forwarding end");
  expectLiveness(accepting->fd, "accepting end");
  listener.stop();
}

}  // namespace
}  // namespace qmesh::dataplane
