// ChannelPool::abortInFlight: when a peer is declared dead, the channels carrying requests
// to it are closed at once, so a request blocked reading from a silent peer fails now
// instead of waiting forever. Real loopback channel pairs; the "dead" peer simply never
// answers (its side stops reading and writing, as over a silent partition).
#include <gtest/gtest.h>

#include "router/dataplane/channel_pool.h"
#include "tests/dataplane/test_loop.h"

namespace qmesh::dataplane {
namespace {

using namespace test;

class InFlightAbortTest : public ::testing::Test {
 protected:
  net::io_context io;
  Identity self = identityFromByte(1);
  Identity b = identityFromByte(2);
  Identity c = identityFromByte(3);
};

TEST_F(InFlightAbortTest, ARequestWaitingOnAPeerDeclaredDeadFailsAtOnce) {
  ChannelPair toB(io, self, b), toC(io, self, c);
  ChannelPool pool;
  auto guardB = pool.trackInFlight(b.id(), toB.client);
  auto guardC = pool.trackInFlight(c.id(), toC.client);
  // Both requests wait for a response that B, gone silent, will never send.
  auto waitingOnB = spawn(io, readAll(toB.client, 1));
  auto waitingOnC = spawn(io, readAll(toC.client, 1));
  EXPECT_FALSE(runUntil(io, [&] { return waitingOnB->has_value(); }, 100ms));

  EXPECT_EQ(pool.abortInFlight(b.id()), 1u);
  ASSERT_TRUE(runUntil(io, [&] { return waitingOnB->has_value(); }, 2s));
  EXPECT_TRUE((*waitingOnB)->ec);
  EXPECT_FALSE(toB.client.isOpen());
  EXPECT_EQ(pool.counters().abortedInFlight, 1u);
  // C is alive: its request keeps waiting, its channel stays open.
  EXPECT_TRUE(toC.client.isOpen());
  EXPECT_FALSE(waitingOnC->has_value());
  toC.client.close();
  runUntil(io, [&] { return waitingOnC->has_value(); });
}

TEST_F(InFlightAbortTest, AChannelNoLongerInUseIsLeftAlone) {
  ChannelPair toB(io, self, b);
  ChannelPool pool;
  {
    auto guard = pool.trackInFlight(b.id(), toB.client);
    auto moved = std::move(guard);  // the guard moves with its owner, once
  }
  EXPECT_EQ(pool.abortInFlight(b.id()), 0u);
  EXPECT_TRUE(toB.client.isOpen());
}

}  // namespace
}  // namespace qmesh::dataplane
