// The UDP transport sends only to numeric addresses: a host name from the network (or
// anywhere) is refused and counted, never looked up, since a lookup blocks the event loop
// for as long as the DNS server, which a peer may choose, likes.
#include <gtest/gtest.h>
#include <netdb.h>
#include <unistd.h>

#include <chrono>

#include "router/membership/udp_transport.h"

namespace qmesh::membership {
namespace {

using namespace std::chrono_literals;

// A host name this machine resolves without a DNS server (/etc/hosts): if the transport
// looked names up, this one would work.
std::optional<std::string> resolvableHostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !*name) return std::nullopt;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (::getaddrinfo(name, nullptr, &hints, &found) != 0) return std::nullopt;
  const bool loopback = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
  ::freeaddrinfo(found);
  if (!loopback) return std::nullopt;
  return std::string(name);
}

TEST(UdpNumericAddresses, AHostNameIsRefusedAndCountedNotLookedUp) {
  const auto name = resolvableHostName();
  if (!name) GTEST_SKIP() << "this machine's host name does not resolve to 127.0.0.1";
  net::io_context io;
  auto a = UdpTransport::open(io, HostPort{"127.0.0.1", 0}, std::nullopt);
  auto b = UdpTransport::open(io, HostPort{"127.0.0.1", 0}, std::nullopt);
  ASSERT_TRUE(a && b);
  int got = 0;
  (*b)->setReceiveHandler([&](const Address&, std::span<const uint8_t>) { ++got; });
  const std::string port = std::to_string((*b)->boundPort());
  (*a)->send(*name + ":" + port, std::vector<uint8_t>{1, 2, 3});
  (*a)->sendReliable(*name + ":" + port, std::vector<uint8_t>{4, 5, 6});
  EXPECT_EQ((*a)->counters().resolveFailures, 2u);
  EXPECT_EQ((*a)->counters().reliableFailed, 1u);
  // The same through a numeric address arrives: the refusal above is about the name.
  (*a)->send("127.0.0.1:" + port, std::vector<uint8_t>{7});
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got < 1 && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
  io.run_for(100ms);  // anything sent to the name would have arrived by now too
  EXPECT_EQ(got, 1);
}

}  // namespace
}  // namespace qmesh::membership
