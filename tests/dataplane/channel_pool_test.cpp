// The pool of idle outgoing channels, over real loopback channel pairs: what it hands out,
// what it refuses to keep, and what it closes. Time is passed in, so expiry needs no waiting.
#include <gtest/gtest.h>

#include "router/dataplane/channel_pool.h"
#include "tests/dataplane/test_loop.h"

namespace qmesh::dataplane {
namespace {

using namespace test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ChannelPoolTest : public ::testing::Test {
 protected:
  // A fresh established channel from `client` to `server` (kept alive here for the test).
  std::unique_ptr<SecureChannel> channelTo(const Identity& server) {
    pairs_.push_back(std::make_unique<ChannelPair>(io_, client_, server));
    return std::make_unique<SecureChannel>(std::move(pairs_.back()->client));
  }
  SecureChannel& serverSideOf(std::size_t i) { return pairs_[i]->server; }

  net::io_context io_;
  Identity client_ = identityFromByte(1);
  Identity b_ = identityFromByte(2);
  Identity c_ = identityFromByte(3);
  Clock::time_point t0_ = Clock::now();
  std::vector<std::unique_ptr<ChannelPair>> pairs_;
};

TEST_F(ChannelPoolTest, HandsBackAChannelOnlyForItsOwnPeer) {
  ChannelPool pool;
  auto ch = channelTo(b_);
  SecureChannel* raw = ch.get();
  pool.put(std::move(ch), t0_);
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_EQ(pool.take(c_.id(), t0_), nullptr);
  auto again = pool.take(b_.id(), t0_ + 1ms);
  EXPECT_EQ(again.get(), raw);
  EXPECT_TRUE(again->isOpen());
  EXPECT_EQ(pool.idle(), 0u);
  EXPECT_EQ(pool.counters().reused, 1u);
  EXPECT_EQ(pool.take(b_.id(), t0_), nullptr);
}

TEST_F(ChannelPoolTest, ChannelThePeerClosedWhileIdleIsNotHandedOut) {
  ChannelPool pool;
  pool.put(channelTo(b_), t0_);
  pool.put(channelTo(c_), t0_);
  EXPECT_FALSE(runCoro(io_, serverSideOf(0).sendFinal()));
  // The idle watch sees the FINAL and closes our end at once; the peer reads that.
  ASSERT_TRUE(runUntil(io_, [&] { return pool.idle() == 1; }));
  EXPECT_EQ(pool.counters().stale, 1u);
  EXPECT_EQ(pool.take(b_.id(), t0_ + 1ms), nullptr);
  EXPECT_EQ(runCoro(io_, readAll(serverSideOf(0))).ec, make_error_code(dataplane_errc::truncated));
  EXPECT_NE(pool.take(c_.id(), t0_ + 1ms), nullptr);  // the other peer's channel is untouched
}

TEST_F(ChannelPoolTest, TakenChannelIsNoLongerWatched) {
  ChannelPool pool;
  pool.put(channelTo(b_), t0_);
  auto ch = pool.take(b_.id(), t0_);
  ASSERT_NE(ch, nullptr);
  // The peer's answer to a reused channel must reach the new owner, not the pool's watch.
  EXPECT_FALSE(runCoro(io_, writeString(serverSideOf(0), "answer")));
  auto r = runCoro(io_, readAll(*ch, 6));
  EXPECT_EQ(r.data, "answer");
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(pool.counters().stale, 0u);
}

TEST_F(ChannelPoolTest, ChannelWithUnreadBytesOrClosedIsNotKept) {
  ChannelPool pool;
  auto unread = channelTo(b_);
  EXPECT_FALSE(runCoro(io_, writeString(serverSideOf(0), "a late byte")));
  ASSERT_TRUE(runUntil(io_, [&] { return !unread->quiescent(); }));
  pool.put(std::move(unread), t0_);
  auto closed = channelTo(b_);
  closed->close();
  pool.put(std::move(closed), t0_);
  EXPECT_EQ(pool.idle(), 0u);
  EXPECT_EQ(pool.counters().stale, 2u);
  EXPECT_EQ(pool.counters().returned, 0u);
}

TEST_F(ChannelPoolTest, ChannelIdleForMaxIdleIsClosedNotHandedOut) {
  ChannelPool pool(ChannelPoolOptions{8, 4000ms});
  pool.put(channelTo(b_), t0_);
  EXPECT_NE(pool.take(b_.id(), t0_ + 3999ms), nullptr);  // just in time
  pool.put(channelTo(b_), t0_);
  EXPECT_EQ(pool.take(b_.id(), t0_ + 4000ms), nullptr);
  EXPECT_EQ(pool.counters().expired, 1u);
  // The peer sees the expired channel closed: its read ends.
  auto r = runCoro(io_, readAll(serverSideOf(1)));
  EXPECT_TRUE(r.ec) << "the server side should see the close";
}

TEST_F(ChannelPoolTest, NewestComesFirstAndOverflowClosesTheOldest) {
  ChannelPool pool(ChannelPoolOptions{2, 4000ms});
  std::vector<SecureChannel*> raw;
  for (int i = 0; i < 3; ++i) {
    auto ch = channelTo(b_);
    raw.push_back(ch.get());
    pool.put(std::move(ch), t0_ + std::chrono::milliseconds(i));
  }
  EXPECT_EQ(pool.counters().overflow, 1u);
  EXPECT_EQ(pool.idle(), 2u);
  EXPECT_EQ(pool.take(b_.id(), t0_ + 5ms).get(), raw[2]);
  EXPECT_EQ(pool.take(b_.id(), t0_ + 5ms).get(), raw[1]);
  EXPECT_EQ(pool.take(b_.id(), t0_ + 5ms), nullptr);
  auto r = runCoro(io_, readAll(serverSideOf(0)));
  EXPECT_TRUE(r.ec) << "the oldest channel should have been closed";
}

TEST_F(ChannelPoolTest, DroppingAPeerClosesOnlyItsChannels) {
  ChannelPool pool;
  pool.put(channelTo(b_), t0_);
  pool.put(channelTo(b_), t0_);
  pool.put(channelTo(c_), t0_);
  pool.dropPeer(b_.id());
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_EQ(pool.counters().dropped, 2u);
  EXPECT_EQ(pool.take(b_.id(), t0_), nullptr);
  EXPECT_NE(pool.take(c_.id(), t0_), nullptr);
  for (std::size_t i : {0u, 1u}) EXPECT_TRUE(runCoro(io_, readAll(serverSideOf(i))).ec);
  pool.put(channelTo(c_), t0_);
  pool.clear();
  EXPECT_EQ(pool.idle(), 0u);
}

}  // namespace
}  // namespace qmesh::dataplane
