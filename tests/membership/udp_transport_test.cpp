// UdpTransport over real loopback sockets: datagrams, the TCP reliable channel, binding and
// addressing, bad input from the network, and the SWIM engine running on top of it. Each
// test runs the io_context until a condition holds or a deadline passes; nothing sleeps.
#include "router/membership/udp_transport.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "router/membership/claim_authority.h"
#include "router/membership/gossip.h"
#include "router/membership/identity.h"
#include "router/membership/sealed_transport.h"
#include "tests/membership/udp_test_util.h"

namespace qmesh::membership {
namespace {

using tcp = net::ip::tcp;
using udp = net::ip::udp;
using namespace std::chrono_literals;
using test::frameHeader;
using test::runUntil;

const HostPort kLoopback{"127.0.0.1", 0};

// Runs the loop for a while with no condition: lets anything that would wrongly happen happen.
void runFor(net::io_context& io, std::chrono::milliseconds d) {
  runUntil(io, [] { return false; }, d);
}

std::unique_ptr<UdpTransport> openOrDie(net::io_context& io, HostPort bind = kLoopback,
                                        std::optional<HostPort> advertise = std::nullopt,
                                        UdpTransport::Options options = {}) {
  auto t = UdpTransport::open(io, bind, std::move(advertise), options);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  return t.ok() ? std::move(t).value() : nullptr;
}

std::vector<uint8_t> bytes(std::size_t n, uint8_t seed = 0) {
  std::vector<uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 8));
  return v;
}

struct Received {
  Address from;
  std::vector<uint8_t> data;
};

// Collects everything a transport hands to its receive handler.
struct Inbox {
  explicit Inbox(Transport& t) {
    t.setReceiveHandler([this](const Address& from, std::span<const uint8_t> d) {
      got.push_back({from, std::vector<uint8_t>(d.begin(), d.end())});
    });
  }
  std::vector<Received> got;
};

std::string portOf(const UdpTransport& t) { return std::to_string(t.boundPort()); }

// A raw client writing whatever bytes a test wants to the transport's TCP listener.
void writeRawTcp(net::io_context& io, uint16_t port, const std::vector<uint8_t>& raw, tcp::socket& s) {
  error_code ec;
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  ASSERT_FALSE(ec) << ec.message();
  if (!raw.empty()) net::write(s, net::buffer(raw), ec);
  ASSERT_FALSE(ec) << ec.message();
}

// ---- datagrams ------------------------------------------------------------------------

TEST(UdpTransport, TwoTransportsExchangeDatagramsBothWays) {
  net::io_context io;
  auto a = openOrDie(io), b = openOrDie(io);
  ASSERT_TRUE(a && b);
  Inbox inA(*a), inB(*b);
  a->send(b->localAddress(), bytes(100, 1));
  b->send(a->localAddress(), bytes(kMaxDatagram, 2));  // exactly the limit is fine
  ASSERT_TRUE(runUntil(io, [&] { return inA.got.size() == 1 && inB.got.size() == 1; }));
  EXPECT_EQ(inB.got[0].from, a->localAddress());
  EXPECT_EQ(inB.got[0].data, bytes(100, 1));
  EXPECT_EQ(inA.got[0].from, b->localAddress());
  EXPECT_EQ(inA.got[0].data, bytes(kMaxDatagram, 2));
  EXPECT_EQ(a->counters().datagramsSent, 1u);
  EXPECT_EQ(a->counters().bytesSent, 100u);
  EXPECT_EQ(a->counters().datagramsReceived, 1u);
  EXPECT_EQ(a->counters().bytesReceived, kMaxDatagram);
}

TEST(UdpTransport, ExchangesDatagramsOverIpv6Loopback) {
  net::io_context io;
  auto a = UdpTransport::open(io, HostPort{"::1", 0}, std::nullopt);
  if (!a.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << a.error().message;
  auto b = openOrDie(io, HostPort{"::1", 0});
  ASSERT_TRUE(b);
  EXPECT_EQ((*a)->localAddress(), "[::1]:" + portOf(**a));
  Inbox inB(*b);
  (*a)->send(b->localAddress(), bytes(10));
  ASSERT_TRUE(runUntil(io, [&] { return inB.got.size() == 1; }));
  EXPECT_EQ(inB.got[0].from, (*a)->localAddress());
}

TEST(UdpTransport, OversizeDatagramIsRefusedAndCounted) {
  net::io_context io;
  auto a = openOrDie(io), b = openOrDie(io);
  Inbox inB(*b);
  a->send(b->localAddress(), bytes(kMaxDatagram + 1));
  a->send(b->localAddress(), bytes(1));
  ASSERT_TRUE(runUntil(io, [&] { return inB.got.size() == 1; }));
  EXPECT_EQ(inB.got[0].data.size(), 1u);
  EXPECT_EQ(a->counters().droppedOversizeOut, 1u);
  EXPECT_EQ(a->counters().datagramsSent, 1u);
}

TEST(UdpTransport, OversizeIncomingDatagramIsDroppedAndCounted) {
  net::io_context io;
  auto b = openOrDie(io);
  Inbox inB(*b);
  udp::socket raw(io, udp::endpoint(udp::v4(), 0));
  const udp::endpoint to(net::ip::make_address("127.0.0.1"), b->boundPort());
  raw.send_to(net::buffer(bytes(kMaxDatagram + 1)), to);
  raw.send_to(net::buffer(bytes(60000)), to);
  raw.send_to(net::buffer(bytes(7)), to);
  ASSERT_TRUE(runUntil(io, [&] { return inB.got.size() == 1; }));
  EXPECT_EQ(inB.got[0].data.size(), 7u);
  EXPECT_EQ(b->counters().droppedOversizeIn, 2u);
}

TEST(UdpTransport, FullOutgoingQueueDropsAndCounts) {
  net::io_context io;
  UdpTransport::Options small;
  small.maxQueuedDatagrams = 4;
  auto a = openOrDie(io, kLoopback, std::nullopt, small), b = openOrDie(io);
  Inbox inB(*b);
  // Nothing leaves before the loop runs, so the fifth send finds four waiting.
  for (int i = 0; i < 10; ++i) a->send(b->localAddress(), bytes(10, static_cast<uint8_t>(i)));
  EXPECT_EQ(a->counters().droppedQueueFull, 6u);
  ASSERT_TRUE(runUntil(io, [&] { return inB.got.size() == 4; }));
  EXPECT_EQ(a->counters().datagramsSent, 4u);
  EXPECT_EQ(inB.got[3].data, bytes(10, 3)) << "queued datagrams leave in order";
}

TEST(UdpTransport, UnparseableAddressesAreCountedNotThrown) {
  net::io_context io;
  auto a = openOrDie(io);
  a->send("no-port-here", bytes(4));
  a->send("127.0.0.1:0", bytes(4));
  a->send("127.0.0.1:99999", bytes(4));
  a->sendReliable("[::1", bytes(4));
  EXPECT_EQ(a->counters().resolveFailures, 4u);
  EXPECT_EQ(a->counters().reliableFailed, 1u);
  EXPECT_EQ(a->counters().datagramsSent, 0u);
}

// ---- the reliable channel -------------------------------------------------------------

TEST(UdpTransport, ReliableMessageOf2MiBArrivesWholeFromTheAdvertisedAddress) {
  net::io_context io;
  // The advertised address is not the TCP peer's: `from` must come from the frame.
  auto a = openOrDie(io, kLoopback, HostPort{"192.0.2.7", 7946});
  auto b = openOrDie(io);
  ASSERT_TRUE(a && b);
  Inbox inB(*b);
  const auto big = bytes(2u << 20, 9);
  a->sendReliable("127.0.0.1:" + portOf(*b), big);
  ASSERT_TRUE(runUntil(io, [&] { return inB.got.size() == 1; }));
  EXPECT_EQ(inB.got[0].from, "192.0.2.7:7946");
  EXPECT_TRUE(inB.got[0].data == big);
  EXPECT_EQ(a->counters().reliableSent, 1u);
  EXPECT_EQ(a->counters().reliableBytesSent, big.size());
  EXPECT_EQ(b->counters().reliableReceived, 1u);
  EXPECT_EQ(b->counters().reliableBytesReceived, big.size());
  EXPECT_EQ(b->counters().reliableDropped, 0u);
}

TEST(UdpTransport, ReliableMessagesWorkBothWaysAndForEmptyData) {
  net::io_context io;
  auto a = openOrDie(io), b = openOrDie(io);
  Inbox inA(*a), inB(*b);
  a->sendReliable(b->localAddress(), bytes(5000, 1));
  b->sendReliable(a->localAddress(), {});
  ASSERT_TRUE(runUntil(io, [&] { return inA.got.size() == 1 && inB.got.size() == 1; }));
  EXPECT_EQ(inB.got[0].from, a->localAddress());
  EXPECT_EQ(inB.got[0].data, bytes(5000, 1));
  EXPECT_EQ(inA.got[0].from, b->localAddress());
  EXPECT_TRUE(inA.got[0].data.empty());
}

TEST(UdpTransport, ReliableToAClosedPortFailsAndIsCounted) {
  net::io_context io;
  uint16_t closedPort;
  {
    tcp::acceptor probe(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    closedPort = probe.local_endpoint().port();
  }
  auto a = openOrDie(io);
  a->sendReliable("127.0.0.1:" + std::to_string(closedPort), bytes(100));
  ASSERT_TRUE(runUntil(io, [&] { return a->counters().reliableFailed == 1; }));
  EXPECT_EQ(a->counters().reliableSent, 0u);
}

TEST(UdpTransport, OverCapReliableSendIsRefused) {
  net::io_context io;
  auto a = openOrDie(io), b = openOrDie(io);
  Inbox inB(*b);
  a->sendReliable(b->localAddress(), bytes(kMaxReliable + 1));
  EXPECT_EQ(a->counters().reliableFailed, 1u);
  runFor(io, 100ms);
  EXPECT_TRUE(inB.got.empty());
}

TEST(UdpTransport, ShortGarbageAndOverCapFramesAreDroppedAndCounted) {
  net::io_context io;
  auto b = openOrDie(io);
  Inbox inB(*b);
  const std::string from = "127.0.0.1:7946";
  auto cut = frameHeader(from, 100);
  cut.resize(cut.size() + 10);  // 10 of the 100 bytes, then the sender gives up
  struct Bad {
    std::vector<uint8_t> raw;
    bool senderCloses;  // else the transport must give up on its own, without more bytes
  };
  const std::vector<Bad> bad = {
      {{0x00}, true},                                    // cut inside the address length
      {{0x00, 0x00, 0, 0, 0, 1, 42}, true},              // empty sender address
      {{0xff, 0xff}, false},                             // longer than any address
      {frameHeader("not an address", 3), true},          // sender address that does not parse
      {frameHeader(from, static_cast<uint32_t>(kMaxReliable + 1)), false},  // over the cap
      {cut, true},
  };
  std::vector<std::unique_ptr<tcp::socket>> clients;
  for (const Bad& frame : bad) {
    clients.push_back(std::make_unique<tcp::socket>(io));
    writeRawTcp(io, b->boundPort(), frame.raw, *clients.back());
    if (frame.senderCloses) clients.back()->close();
  }
  ASSERT_TRUE(runUntil(io, [&] { return b->counters().reliableDropped == bad.size(); }))
      << "dropped " << b->counters().reliableDropped;
  EXPECT_TRUE(inB.got.empty());
  EXPECT_EQ(b->counters().reliableReceived, 0u);
  // Still serving: a good frame after the bad ones arrives.
  auto a = openOrDie(io);
  a->sendReliable(b->localAddress(), bytes(3));
  ASSERT_TRUE(runUntil(io, [&] { return inB.got.size() == 1; }));
}

TEST(UdpTransport, SilentConnectionIsClosedAtTheReadDeadline) {
  net::io_context io;
  UdpTransport::Options quick;
  quick.reliableReadTimeout = 200ms;
  auto b = openOrDie(io, kLoopback, std::nullopt, quick);
  tcp::socket silent(io);
  auto half = frameHeader("127.0.0.1:1", 50);
  writeRawTcp(io, b->boundPort(), half, silent);  // header, then nothing
  ASSERT_TRUE(runUntil(io, [&] { return b->counters().reliableDropped == 1; }));
  // The transport closed its end: our read sees EOF.
  std::array<uint8_t, 1> buf;
  error_code ec;
  silent.read_some(net::buffer(buf), ec);
  EXPECT_EQ(ec, net::error::eof);
}

TEST(UdpTransport, ConnectionsOverTheCapAreDroppedAndCounted) {
  net::io_context io;
  UdpTransport::Options one;
  one.maxInboundConnections = 1;
  one.maxOutboundConnections = 1;
  one.reliableReadTimeout = 300ms;
  auto a = openOrDie(io, kLoopback, std::nullopt, one), b = openOrDie(io, kLoopback, std::nullopt, one);
  Inbox inB(*b);
  // Inbound: the first connection holds the only slot; the second takes it, the first is
  // closed (the oldest unauthenticated connection makes room, see pending_admission.h).
  tcp::socket first(io), second(io);
  writeRawTcp(io, b->boundPort(), {}, first);
  writeRawTcp(io, b->boundPort(), {}, second);
  ASSERT_TRUE(runUntil(io, [&] { return b->counters().connectionsOverLimit == 1; }));
  ASSERT_TRUE(runUntil(io, [&] { return b->counters().reliableDropped == 2; }));  // evicted, then timed out
  // Outbound: one in flight, the next refused at once.
  a->sendReliable(b->localAddress(), bytes(10, 1));
  a->sendReliable(b->localAddress(), bytes(10, 2));
  EXPECT_EQ(a->counters().connectionsOverLimit, 1u);
  EXPECT_EQ(a->counters().reliableFailed, 1u);
  ASSERT_TRUE(runUntil(io, [&] { return inB.got.size() == 1; }));
  EXPECT_EQ(inB.got[0].data, bytes(10, 1));
}

// ---- binding and addresses ------------------------------------------------------------

TEST(UdpTransport, BindingAUdpPortInUseReportsAddressInUse) {
  net::io_context io;
  udp::socket taken(io, udp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = taken.local_endpoint().port();
  UdpTransport::OpenFailure why{};
  auto t = UdpTransport::open(io, HostPort{"127.0.0.1", port}, std::nullopt, {}, &why);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(why, UdpTransport::OpenFailure::kAddressInUse);
  EXPECT_NE(t.error().message.find("127.0.0.1:" + std::to_string(port) + " is already in use (UDP)"),
            std::string::npos)
      << t.error().message;
}

TEST(UdpTransport, BindingATcpPortInUseReportsAddressInUse) {
  net::io_context io;
  tcp::acceptor taken(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = taken.local_endpoint().port();
  UdpTransport::OpenFailure why{};
  auto t = UdpTransport::open(io, HostPort{"127.0.0.1", port}, std::nullopt, {}, &why);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(why, UdpTransport::OpenFailure::kAddressInUse);
  EXPECT_NE(t.error().message.find("is already in use (TCP)"), std::string::npos) << t.error().message;
}

TEST(UdpTransport, SecondTransportOnTheSamePortReportsAddressInUse) {
  net::io_context io;
  auto a = openOrDie(io);
  UdpTransport::OpenFailure why{};
  auto t = UdpTransport::open(io, HostPort{"127.0.0.1", a->boundPort()}, std::nullopt, {}, &why);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(why, UdpTransport::OpenFailure::kAddressInUse);
}

TEST(UdpTransport, BadBindAddressesAreClearlyReported) {
  net::io_context io;
  UdpTransport::OpenFailure why{};
  auto name = UdpTransport::open(io, HostPort{"gossip.example", 7946}, std::nullopt, {}, &why);
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(why, UdpTransport::OpenFailure::kBadAddress);
  EXPECT_NE(name.error().message.find("not a numeric IP address"), std::string::npos);
  auto foreign = UdpTransport::open(io, HostPort{"192.0.2.1", 0}, std::nullopt, {}, &why);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(why, UdpTransport::OpenFailure::kBadAddress);
  EXPECT_NE(foreign.error().message.find("not an address of this machine"), std::string::npos)
      << foreign.error().message;
  auto wildAdvertise = UdpTransport::open(io, kLoopback, HostPort{"0.0.0.0", 1}, {}, &why);
  ASSERT_FALSE(wildAdvertise.ok());
  EXPECT_EQ(why, UdpTransport::OpenFailure::kBadAddress);
}

TEST(UdpTransport, PortZeroPicksAPortUsableForBothUdpAndTcp) {
  net::io_context io;
  auto b = openOrDie(io);
  ASSERT_TRUE(b);
  ASSERT_NE(b->boundPort(), 0);
  EXPECT_EQ(b->localAddress(), "127.0.0.1:" + portOf(*b));
  // Both protocols are held by it...
  error_code ec;
  udp::socket u(io);
  u.open(udp::v4());
  u.bind(udp::endpoint(net::ip::make_address("127.0.0.1"), b->boundPort()), ec);
  EXPECT_EQ(ec, net::error::address_in_use);
  tcp::acceptor t(io);
  t.open(tcp::v4());
  t.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), b->boundPort()), ec);
  if (!ec) t.listen(4, ec);
  EXPECT_EQ(ec, net::error::address_in_use);
  // ...and both work.
  auto a = openOrDie(io);
  Inbox inB(*b);
  a->send(b->localAddress(), bytes(8));
  a->sendReliable(b->localAddress(), bytes(9));
  ASSERT_TRUE(runUntil(io, [&] { return inB.got.size() == 2; }));
}

TEST(UdpTransport, LocalAddressHonoursAdvertise) {
  net::io_context io;
  auto a = openOrDie(io, kLoopback, HostPort{"10.1.2.3", 9000});
  EXPECT_EQ(a->localAddress(), "10.1.2.3:9000");
  auto b = openOrDie(io, kLoopback, HostPort{"10.1.2.3", 0});  // port 0: the bound one
  EXPECT_EQ(b->localAddress(), "10.1.2.3:" + portOf(*b));
  auto c = openOrDie(io, kLoopback, HostPort{"fd00::5", 7946});
  EXPECT_EQ(c->localAddress(), "[fd00::5]:7946");
}

TEST(UdpTransport, WildcardBindAdvertisesAConcreteAddress) {
  net::io_context io;
  auto a = openOrDie(io, HostPort{"0.0.0.0", 0});
  ASSERT_TRUE(a);
  const std::string addr = a->localAddress();
  EXPECT_EQ(addr.find("0.0.0.0"), std::string::npos) << addr;
  EXPECT_EQ(addr.substr(addr.rfind(':') + 1), portOf(*a));
  // It is reachable at that address (an interface of this machine, or 127.0.0.1).
  auto b = openOrDie(io);
  Inbox inA(*a);
  b->send(addr, bytes(3));
  ASSERT_TRUE(runUntil(io, [&] { return inA.got.size() == 1; })) << addr;
}

// ---- lifetime -------------------------------------------------------------------------

TEST(UdpTransport, NothingRunsAfterCloseOrDestruction) {
  net::io_context io;
  auto a = openOrDie(io), b = openOrDie(io);
  Inbox inB(*b);
  int calls = 0;
  a->setReceiveHandler([&](const Address&, std::span<const uint8_t>) { ++calls; });
  // In flight everywhere: datagrams both ways, a big reliable message each way.
  b->send(a->localAddress(), bytes(10));
  a->send(b->localAddress(), bytes(10));
  a->sendReliable(b->localAddress(), bytes(1u << 20));
  b->sendReliable(a->localAddress(), bytes(1u << 20));
  a.reset();
  b->close();
  b->send("127.0.0.1:1", bytes(1));  // ignored once closed
  b->sendReliable("127.0.0.1:1", bytes(1));
  const auto before = b->counters();
  runFor(io, 200ms);
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(inB.got.empty());
  EXPECT_EQ(b->counters().reliableFailed, before.reliableFailed);
  EXPECT_EQ(b->counters().datagramsSent, before.datagramsSent);
}

TEST(UdpTransport, ReceiveHandlerMayDestroyItsTransport) {
  net::io_context io;
  auto a = openOrDie(io), b = openOrDie(io);
  int calls = 0;
  b->setReceiveHandler([&](const Address&, std::span<const uint8_t>) {
    ++calls;
    b.reset();
  });
  a->send("127.0.0.1:" + portOf(*b), bytes(4));
  a->send("127.0.0.1:" + portOf(*b), bytes(4));
  a->sendReliable("127.0.0.1:" + portOf(*b), bytes(4));
  ASSERT_TRUE(runUntil(io, [&] { return calls == 1; }));
  runFor(io, 100ms);
  EXPECT_EQ(calls, 1);
}

// ---- what runs on top of it -----------------------------------------------------------

MeshKey meshKey(uint8_t b) {
  MeshKey k;
  k.fill(b);
  return k;
}

NodeId nodeId(uint8_t n) {
  NodeId id;
  id.bytes.fill(0x5a);
  id.bytes[0] = n;
  return id;
}

TEST(UdpTransport, SealedTransportOverUdpDeliversDatagramsAndReliableMessages) {
  net::io_context io;
  Keyring ring(meshKey(7));
  auto rawA = openOrDie(io), rawB = openOrDie(io);
  ASSERT_TRUE(rawA && rawB);
  auto* udpB = rawB.get();
  SealedTransport a(std::move(rawA), ring, nodeId(1), 1), b(std::move(rawB), ring, nodeId(2), 1);
  ASSERT_TRUE(a.supportsReliable());
  Inbox inB(b);
  a.send(b.localAddress(), bytes(a.maxPayload(), 4));
  ASSERT_TRUE(runUntil(io, [&] { return inB.got.size() == 1; }));
  EXPECT_EQ(inB.got[0].from, a.localAddress());
  EXPECT_EQ(inB.got[0].data, bytes(a.maxPayload(), 4));
  EXPECT_EQ(udpB->counters().bytesReceived, kMaxDatagram) << "the sealed datagram fills the limit";
  const auto state = bytes(1u << 20, 5);
  a.sendReliable(b.localAddress(), state);
  ASSERT_TRUE(runUntil(io, [&] { return inB.got.size() == 2; }));
  EXPECT_EQ(inB.got[1].from, a.localAddress());
  EXPECT_TRUE(inB.got[1].data == state);
  EXPECT_EQ(b.stats().opened, 1u);
  EXPECT_EQ(b.reliableStats().opened, 1u);
  EXPECT_EQ(b.stats().rejected() + b.reliableStats().rejected(), 0u);
}

// Calls tick() at the engine's next wakeup. A datagram can make something due sooner (the
// simulator reschedules after each one); polling every 20 ms covers that, as early ticks are
// harmless.
class Ticker {
 public:
  Ticker(net::io_context& io, Gossip& g) : timer_(io), gossip_(g) { arm(); }

 private:
  void arm() {
    timer_.expires_at(std::min(gossip_.nextWakeup(), std::chrono::steady_clock::now() + 20ms));
    timer_.async_wait([this](const error_code& ec) {
      if (ec) return;
      gossip_.tick();
      arm();
    });
  }
  net::steady_timer timer_;
  Gossip& gossip_;
};

// One router's membership stack on real sockets: identity, signed claims, the engine.
struct UdpNode {
  UdpNode(net::io_context& io, uint8_t n, const Keyring* ring) : claims(identity) {
    auto udp = openOrDie(io);
    if (!udp) return;
    this->udp = udp.get();
    if (ring)
      transport = std::make_unique<SealedTransport>(std::move(udp), *ring, identity.id(), 1);
    else
      transport = std::move(udp);
    Member self;
    self.id = identity.id();
    self.name = "udp-node-" + std::to_string(n);
    self.address = transport->localAddress();
    random = std::make_unique<SeededRandom>(n);
    gossip = std::make_unique<Gossip>(GossipConfig::lan(), self, claims, *transport, clock, *random);
    ticker = std::make_unique<Ticker>(io, *gossip);
  }
  bool seesAlive(const UdpNode& other) const {
    const Member* m = gossip->members().find(other.identity.id());
    return m && m->state == MemberState::kAlive;
  }

  Identity identity = Identity::generate();
  Ed25519Claims claims;
  SteadyClock clock;
  std::unique_ptr<SeededRandom> random;
  UdpTransport* udp = nullptr;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<Gossip> gossip;  // after the transport: detaches from it first
  std::unique_ptr<Ticker> ticker;  // after the engine: cancelled before it goes
};

void expectTwoEnginesFindEachOther(const Keyring* ring) {
  net::io_context io;
  UdpNode a(io, 1, ring), b(io, 2, ring);
  ASSERT_TRUE(a.gossip && b.gossip);
  b.gossip->join({a.transport->localAddress()});
  ASSERT_TRUE(runUntil(io, [&] { return a.seesAlive(b) && b.seesAlive(a); }, 10s));
  EXPECT_EQ(a.gossip->members().find(b.identity.id())->address, b.transport->localAddress());
  // The join was a push-pull over TCP, answered the same way.
  EXPECT_GE(b.gossip->stats().pushPulls, 1u);
  EXPECT_GE(a.udp->counters().reliableReceived, 1u);
  EXPECT_GE(b.udp->counters().reliableReceived, 1u);
  // And they keep probing each other over UDP without suspicion.
  const auto probes = a.gossip->stats().probes;
  ASSERT_TRUE(runUntil(io, [&] { return a.gossip->stats().probes >= probes + 3; }, 5s));
  EXPECT_TRUE(a.seesAlive(b) && b.seesAlive(a));
  for (const UdpNode* n : {&a, &b}) {
    EXPECT_EQ(n->gossip->stats().malformed, 0u);
    EXPECT_EQ(n->gossip->stats().badSignature, 0u);
    EXPECT_EQ(n->gossip->stats().suspicionsRaised, 0u);
    EXPECT_GT(n->udp->counters().datagramsReceived, 0u);
    EXPECT_EQ(n->udp->counters().reliableFailed + n->udp->counters().reliableDropped, 0u);
  }
}

TEST(UdpTransport, TwoGossipEnginesSeeEachOtherAliveOverRealSockets) {
  expectTwoEnginesFindEachOther(nullptr);
}

TEST(UdpTransport, TwoGossipEnginesSeeEachOtherAliveOverSealedRealSockets) {
  Keyring ring(meshKey(3));
  expectTwoEnginesFindEachOther(&ring);
}

}  // namespace
}  // namespace qmesh::membership
