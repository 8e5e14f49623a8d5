// What a stranger without the mesh key can cost the push-pull (TCP) side of UdpTransport:
// a frame header must arrive within firstBytesTimeout, connections are capped per source
// address (the oldest making room), and frames being read share a memory budget. Real
// loopback sockets; 127.0.0.2.. stand in for other hosts (Linux routes 127/8 to lo).
#include <gtest/gtest.h>

#include <functional>
#include <list>

#include "router/membership/udp_transport.h"
#include "tests/membership/udp_test_util.h"

namespace qmesh::membership {
namespace {

using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using test::frameHeader;
using test::runUntil;

class UdpTransportLimits : public ::testing::Test {
 protected:
  void open(const UdpTransport::Options& o) {
    auto t = UdpTransport::open(io, {"127.0.0.1", 0}, std::nullopt, o);
    ASSERT_TRUE(t.ok()) << t.error().message;
    b = std::move(t).value();
    b->setReceiveHandler([this](const Address&, std::span<const uint8_t> d) { got.emplace_back(d.begin(), d.end()); });
  }

  // Connects from `source`, writes `raw`, and returns once the transport accepted.
  tcp::socket& connectFrom(const std::string& source, const std::vector<uint8_t>& raw = {}) {
    auto& s = sockets.emplace_back(io);
    s.open(tcp::v4());
    s.bind(tcp::endpoint(net::ip::make_address(source), 0));
    error_code ec;
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), b->boundPort()), ec);
    EXPECT_FALSE(ec) << ec.message();
    if (!raw.empty()) net::write(s, net::buffer(raw), ec);
    EXPECT_FALSE(ec) << ec.message();
    return s;
  }

  // True once the transport closed `s`: our blocking read ends with EOF or a reset.
  bool closedByTransport(tcp::socket& s) {
    bool closed = false;
    s.async_read_some(net::buffer(scratch), [&](error_code ec, std::size_t) { closed = static_cast<bool>(ec); });
    return runUntil(io, [&] { return closed; });
  }

  net::io_context io;
  std::unique_ptr<UdpTransport> b;
  std::vector<std::vector<uint8_t>> got;
  std::list<tcp::socket> sockets;
  std::array<uint8_t, 64> scratch{};
};

TEST_F(UdpTransportLimits, NoFrameHeaderWithinTheFirstBytesTimeoutClosesTheConnection) {
  UdpTransport::Options o;
  o.firstBytesTimeout = 200ms;
  o.reliableReadTimeout = 10s;  // the whole-frame deadline is not what ends it
  open(o);
  const auto start = std::chrono::steady_clock::now();
  tcp::socket& silent = connectFrom("127.0.0.2", {0x00});  // one byte of the two-byte length
  ASSERT_TRUE(closedByTransport(silent));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(b->counters().inboundFirstBytesTimeouts, 1u);
  EXPECT_EQ(b->counters().reliableDropped, 1u);
}

TEST_F(UdpTransportLimits, AfterTheHeaderTheFrameGetsTheRestOfTheReadDeadline) {
  UdpTransport::Options o;
  o.firstBytesTimeout = 200ms;
  o.reliableReadTimeout = 3s;
  open(o);
  tcp::socket& slow = connectFrom("127.0.0.2", frameHeader("127.0.0.2:1", 4));
  // Past the first-bytes deadline, still within the read deadline: the frame completes.
  net::steady_timer wait(io, 500ms);
  bool waited = false;
  wait.async_wait([&](error_code) { waited = true; });
  ASSERT_TRUE(runUntil(io, [&] { return waited; }));
  const std::vector<uint8_t> data{1, 2, 3, 4};
  net::write(slow, net::buffer(data));
  ASSERT_TRUE(runUntil(io, [&] { return got.size() == 1; }));
  EXPECT_EQ(got[0], data);
  EXPECT_EQ(b->counters().inboundFirstBytesTimeouts, 0u);
}

TEST_F(UdpTransportLimits, OverThePerSourceCapTheOldestFromThatSourceIsClosed) {
  UdpTransport::Options o;
  o.maxInboundPerSource = 2;
  open(o);
  tcp::socket& oldest = connectFrom("127.0.0.2");
  connectFrom("127.0.0.2");
  connectFrom("127.0.0.3");
  connectFrom("127.0.0.2");  // the third from .2
  ASSERT_TRUE(closedByTransport(oldest));
  EXPECT_EQ(b->counters().inboundOverSourceLimit, 1u);
  EXPECT_EQ(b->counters().connectionsOverLimit, 0u);
  // A frame from a fourth address is still delivered.
  tcp::socket& good = connectFrom("127.0.0.4", frameHeader("127.0.0.4:1", 2));
  net::write(good, net::buffer(std::vector<uint8_t>{7, 8}));
  ASSERT_TRUE(runUntil(io, [&] { return got.size() == 1; }));
}

TEST_F(UdpTransportLimits, FramesBeyondTheMemoryBudgetAreDroppedBeforeTheyAllocate) {
  UdpTransport::Options o;
  o.maxInboundBufferedBytes = kReliableChunk + kReliableChunk / 2;  // room for one piece
  open(o);
  // Two strangers announce 8 MiB each: the first reserves its first piece, the second
  // finds no room and is closed at once; nothing near 16 MiB is ever held.
  connectFrom("127.0.0.2", frameHeader("127.0.0.2:1", kMaxReliable));
  ASSERT_TRUE(runUntil(io, [&] { return b->counters().inboundBufferedBytes == kReliableChunk; }));
  tcp::socket& second = connectFrom("127.0.0.3", frameHeader("127.0.0.3:1", kMaxReliable));
  ASSERT_TRUE(closedByTransport(second));
  EXPECT_EQ(b->counters().inboundOverMemoryBudget, 1u);
  // A small honest frame still fits next to the first stranger's chunk.
  tcp::socket& good = connectFrom("127.0.0.4", frameHeader("127.0.0.4:1", 3));
  net::write(good, net::buffer(std::vector<uint8_t>{1, 2, 3}));
  ASSERT_TRUE(runUntil(io, [&] { return got.size() == 1; }));
}

TEST_F(UdpTransportLimits, AFinishedFrameReturnsItsBudget) {
  UdpTransport::Options o;
  o.maxInboundBufferedBytes = 1000;
  open(o);
  for (int i = 0; i < 3; ++i) {
    tcp::socket& s = connectFrom("127.0.0.2", frameHeader("127.0.0.2:1", 800));
    net::write(s, net::buffer(std::vector<uint8_t>(800, static_cast<uint8_t>(i))));
    ASSERT_TRUE(runUntil(io, [&] { return got.size() == static_cast<std::size_t>(i + 1); })) << "frame " << i;
    EXPECT_EQ(b->counters().inboundBufferedBytes, 0u);
  }
  EXPECT_EQ(b->counters().inboundOverMemoryBudget, 0u);
}

}  // namespace
}  // namespace qmesh::membership
