// What a stranger without the mesh key can cost the data-plane listener: connections that
// never finish a handshake are capped (overall and per source address, the oldest making
// room), closed at the handshake deadline, and a non-member's hello is refused before any
// signature is checked. Real loopback sockets; 127.0.0.2.. stand in for other hosts (Linux
// routes all of 127/8 to lo).
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <list>

#include "common/fd_limit.h"
#include "router/dataplane/handshake.h"
#include "router/dataplane/listener.h"
#include "tests/dataplane/test_loop.h"

namespace qmesh::dataplane {
namespace {

using namespace test;

class PreauthLimitsTest : public ::testing::Test {
 protected:
  void startListener(const std::function<void(DataPlaneListenerOptions&)>& tweak = {}) {
    DataPlaneListenerOptions o;
    o.accept = [this](const NodeId& id) { return id == alice.id(); };
    if (tweak) tweak(o);
    listener = std::make_unique<DataPlaneListener>(io.get_executor(), bob, o);
    ASSERT_FALSE(listener->open({"127.0.0.1", 0}));
    listener->start();
  }

  // A connection from `source` that sends nothing; returns once the listener accepted it.
  tcp::socket& idleFrom(const std::string& source) {
    auto& s = idle.emplace_back(io);
    s.open(tcp::v4());
    s.bind(tcp::endpoint(net::ip::make_address(source), 0));
    const uint64_t before = counters().accepted;
    auto done = std::make_shared<bool>(false);
    s.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), listener->port()),
                    [done](error_code) { *done = true; });
    EXPECT_TRUE(runUntil(io, [&] { return *done && counters().accepted == before + 1; }));
    return s;
  }

  // True once the listener has closed `s` (we read EOF or a reset).
  bool closedByListener(tcp::socket& s) {
    auto r = spawn(io, readAll(s, 1));
    return runUntil(io, [&] { return r->has_value(); }, 3s) && (*r)->ec;
  }

  error_code aliceConnects() {
    SecureChannel ch(io.get_executor());
    const error_code ec = runCoro(io, ch.connect("127.0.0.1", listener->port(), alice, bob.id(), 5s));
    EXPECT_FALSE(ec) << ec.message();
    return ec;
  }

  const DataPlaneCounters& counters() const { return listener->counters(); }

  net::io_context io;
  Identity alice = identityFromByte(1);  // a member
  Identity bob = identityFromByte(2);    // owns the listener
  Identity mallory = identityFromByte(5);  // holds no mesh membership
  std::list<tcp::socket> idle;
  std::unique_ptr<DataPlaneListener> listener;
};

TEST(PreauthHandshakeTest, NonMemberHelloIsRefusedBeforeItsSignatureIsChecked) {
  // A stranger names a random id and sends a garbage signature: membership answers first,
  // so no Ed25519 verify is spent on it. (Checked second, it would be bad_signature.)
  const Identity mallory = identityFromByte(5), bob = identityFromByte(2);
  ClientHandshake c(mallory, bob.id());
  auto hello = c.hello();
  std::fill(hello.end() - 64, hello.end(), uint8_t{0xAB});  // the signature
  ServerHandshake s(bob);
  SessionKeys keys;
  ASSERT_FALSE(s.receivePrefix(std::span(hello).first<kPrefixBytes>()));
  int asked = 0;
  EXPECT_EQ(s.receiveBody(std::span(hello).subspan<kPrefixBytes>(),
                          [&](const NodeId&) { ++asked; return false; }, keys),
            dataplane_errc::peer_rejected);
  EXPECT_EQ(asked, 1);
}

TEST_F(PreauthLimitsTest, OverThePerSourceCapTheOldestPendingFromThatSourceIsClosed) {
  startListener([](DataPlaneListenerOptions& o) { o.maxPendingPerSource = 2; });
  tcp::socket& oldest = idleFrom("127.0.0.2");
  tcp::socket& second = idleFrom("127.0.0.2");
  tcp::socket& other = idleFrom("127.0.0.3");  // another host: its own allowance
  EXPECT_EQ(counters().pendingHandshakes, 3u);
  tcp::socket& third = idleFrom("127.0.0.2");
  ASSERT_TRUE(runUntil(io, [&] { return counters().evictedPerSourceCap == 1; }));
  EXPECT_TRUE(closedByListener(oldest));
  EXPECT_EQ(counters().pendingHandshakes, 3u);
  EXPECT_EQ(counters().evictedPendingCap, 0u);
  // Eviction is not a handshake failure: counted once, as an eviction.
  EXPECT_EQ(counters().handshakeIoErrors, 0u);
  (void)second, (void)other, (void)third;
  // A member from yet another address still gets through.
  EXPECT_FALSE(aliceConnects());
}

TEST_F(PreauthLimitsTest, OverTheOverallCapTheOldestPendingIsClosedAndAMemberGetsIn) {
  startListener([](DataPlaneListenerOptions& o) { o.maxPendingHandshakes = 3; });
  tcp::socket& oldest = idleFrom("127.0.0.2");
  idleFrom("127.0.0.3");
  idleFrom("127.0.0.4");
  EXPECT_EQ(counters().pendingHandshakes, 3u);
  // The member's connection is the fourth pending one: the oldest stranger makes room.
  EXPECT_FALSE(aliceConnects());
  EXPECT_EQ(counters().evictedPendingCap, 1u);
  EXPECT_TRUE(closedByListener(oldest));
  ASSERT_TRUE(runUntil(io, [&] { return counters().authenticated == 1; }));
}

TEST_F(PreauthLimitsTest, AFinishedHandshakeNoLongerCountsAsPending) {
  startListener();
  EXPECT_FALSE(aliceConnects());
  ASSERT_TRUE(runUntil(io, [&] { return counters().pendingHandshakes == 0; }));
  SecureChannel refused(io.get_executor());
  EXPECT_EQ(runCoro(io, refused.connect("127.0.0.1", listener->port(), mallory, bob.id(), 5s)),
            dataplane_errc::peer_rejected);
  ASSERT_TRUE(runUntil(io, [&] { return counters().pendingHandshakes == 0; }));
}

TEST_F(PreauthLimitsTest, SilentConnectionIsClosedWithinAboutOneSecondByDefault) {
  startListener();
  const auto start = std::chrono::steady_clock::now();
  tcp::socket& silent = idleFrom("127.0.0.2");
  EXPECT_TRUE(closedByListener(silent));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 1500ms);
  EXPECT_GE(took, 900ms);
  ASSERT_TRUE(runUntil(io, [&] { return counters().handshakeFailures(dataplane_errc::handshake_timeout) == 1; }));
  EXPECT_EQ(counters().pendingHandshakes, 0u);
}

TEST_F(PreauthLimitsTest, AThousandIdleConnectionsDoNotKeepAMemberOut) {
  // The default caps, 1,000 silent connections from 40 addresses, then a member: it must
  // complete its handshake at once, and the listener must hold at most the cap.
  raiseFdLimit();
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < 2500) GTEST_SKIP() << "needs 2,500 descriptors, have " << rl.rlim_cur;
  startListener();
  for (int i = 0; i < 1000; ++i) idleFrom("127.0.0." + std::to_string(2 + i % 40));
  EXPECT_EQ(counters().pendingHandshakes, DataPlaneListenerOptions{}.maxPendingHandshakes);
  EXPECT_EQ(counters().evictedPendingCap, 1000u - DataPlaneListenerOptions{}.maxPendingHandshakes);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(aliceConnects());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

}  // namespace
}  // namespace qmesh::dataplane
