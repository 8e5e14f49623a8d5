// Socket options of the router's client-facing connections. The router runs in this process
// (RouterHarness), so the test finds the accepted socket among its own file descriptors, by
// the address pair of a connection it made, and reads the option the kernel holds.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <filesystem>
#include <optional>

#include "tests/router/fake_upstream.h"
#include "tests/router/own_sockets.h"
#include "tests/router/router_harness.h"

using namespace qmesh;
using namespace qmesh::test;

namespace {

// The fd whose local end is the router's port and whose peer is `client`: the router's
// side of that connection. nullopt when there is none.
std::optional<int> acceptedSocketFor(uint16_t routerPort, uint16_t clientPort) {
  for (const auto& s : test::connectedSockets())
    if (s.localPort == routerPort && s.peerPort == clientPort) return s.fd;
  return std::nullopt;
}

}  // namespace

// Nagle plus the client's delayed ACK would hold each small SSE event for up to 40 ms.
TEST(ProxySocket, ClientConnectionHasTcpNoDelay) {
  FakeUpstream up;
  RouterHarness r(RouterHarness::config({router::StaticWorker{"m", "127.0.0.1", up.port(), 1}}));
  router::net::io_context io;
  router::tcp::socket sock(io);
  sock.connect({router::net::ip::make_address("127.0.0.1"), r.port()});
  // One answered request on a kept-alive connection: by then the session has set its
  // options, and the connection stays open to be inspected.
  router::net::write(sock, router::net::buffer(std::string("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")));
  router::beast::flat_buffer buf;
  router::http::response<router::http::string_body> res;
  router::http::read(sock, buf, res);
  ASSERT_EQ(res.result_int(), 200);
  ASSERT_TRUE(res.keep_alive());

  const auto fd = acceptedSocketFor(r.port(), sock.local_endpoint().port());
  ASSERT_TRUE(fd) << "the router's end of the connection is not among this process's fds";
  int noDelay = 0;
  socklen_t len = sizeof noDelay;
  ASSERT_EQ(::getsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &noDelay, &len), 0);
  EXPECT_NE(noDelay, 0) << "TCP_NODELAY is off on the client-facing socket";
}
