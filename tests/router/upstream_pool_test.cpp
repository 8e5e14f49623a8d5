// UpstreamPool on real loopback sockets, time passed in: what comes back, what is closed.
#include <gtest/gtest.h>
#include <poll.h>

#include "router/proxy/upstream_pool.h"

using namespace qmesh::router;
using namespace std::chrono;

namespace {

class UpstreamPoolTest : public ::testing::Test {
 protected:
  UpstreamPoolTest() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {}

  // A connected pair: ours (to pool) and the worker's end.
  std::unique_ptr<tcp::socket> connect(tcp::socket& workerSide) {
    auto s = std::make_unique<tcp::socket>(io_);
    s->connect(acceptor_.local_endpoint());
    workerSide = acceptor_.accept();
    return s;
  }
  tcp::endpoint worker() const { return acceptor_.local_endpoint(); }

  // Runs the loop until pred() or 2 s pass.
  bool runUntil(const std::function<bool()>& pred) {
    const auto until = steady_clock::now() + seconds(2);
    while (!pred() && steady_clock::now() < until) {
      io_.restart();
      io_.run_for(milliseconds(10));
    }
    return pred();
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  UpstreamPool pool_{UpstreamPoolOptions{32, milliseconds(2000)}};
  const TimePoint t0_ = SteadyClock::now();
};

}  // namespace

TEST_F(UpstreamPoolTest, TakeReturnsTheConnectionPutBack) {
  tcp::socket w(io_);
  auto s = connect(w);
  const int fd = s->native_handle();
  pool_.put(worker(), std::move(s), 4, t0_);
  EXPECT_EQ(pool_.idle(), 1u);
  auto back = pool_.take(worker(), t0_ + milliseconds(100));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->native_handle(), fd);
  EXPECT_EQ(pool_.idle(), 0u);
  EXPECT_EQ(pool_.counters().reused, 1u);
  EXPECT_FALSE(pool_.take(worker(), t0_ + milliseconds(100)));
}

TEST_F(UpstreamPoolTest, ConnectionsAreKeptPerWorkerAddress) {
  tcp::socket w(io_);
  pool_.put(worker(), connect(w), 4, t0_);
  const tcp::endpoint other(worker().address(), static_cast<unsigned short>(worker().port() + 1));
  EXPECT_FALSE(pool_.take(other, t0_));
  EXPECT_TRUE(pool_.take(worker(), t0_));
}

// Without running the loop (so the idle watch cannot act), take() itself sees the FIN.
TEST_F(UpstreamPoolTest, ConnectionTheWorkerClosedIsNotHandedOut) {
  tcp::socket w(io_);
  auto s = connect(w);
  pollfd p{s->native_handle(), POLLIN, 0};
  pool_.put(worker(), std::move(s), 4, t0_);
  w.close();
  ASSERT_EQ(::poll(&p, 1, 2000), 1);  // the FIN arrived
  EXPECT_FALSE(pool_.take(worker(), t0_ + milliseconds(10)));
  EXPECT_EQ(pool_.counters().stale, 1u);
}

TEST_F(UpstreamPoolTest, ConnectionTheWorkerClosedIsNeverKept) {
  tcp::socket w(io_);
  auto s = connect(w);
  pollfd p{s->native_handle(), POLLIN, 0};
  w.close();
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  pool_.put(worker(), std::move(s), 4, t0_);
  EXPECT_EQ(pool_.idle(), 0u);
  EXPECT_EQ(pool_.counters().stale, 1u);
}

TEST_F(UpstreamPoolTest, IdleConnectionIsClosedAsSoonAsTheWorkerClosesIt) {
  tcp::socket w(io_);
  pool_.put(worker(), connect(w), 4, t0_);
  w.close();
  EXPECT_TRUE(runUntil([&] { return pool_.idle() == 0; }));
  EXPECT_EQ(pool_.counters().stale, 1u);
}

TEST_F(UpstreamPoolTest, ConnectionIdleLongerThanMaxIdleIsClosedNotReused) {
  tcp::socket w(io_);
  pool_.put(worker(), connect(w), 4, t0_);
  EXPECT_FALSE(pool_.take(worker(), t0_ + milliseconds(2000)));
  EXPECT_EQ(pool_.counters().expired, 1u);
  // The worker sees it closed: its HTTP thread is free again.
  char c;
  error_code ec;
  w.read_some(net::buffer(&c, 1), ec);
  EXPECT_EQ(ec, net::error::eof);
}

TEST_F(UpstreamPoolTest, KeepsNoMoreIdleThanTheWorkersSlotsOldestGoFirst) {
  tcp::socket w1(io_), w2(io_), w3(io_);
  pool_.put(worker(), connect(w1), 2, t0_);
  auto s2 = connect(w2);
  const int fd2 = s2->native_handle();
  pool_.put(worker(), std::move(s2), 2, t0_ + milliseconds(1));
  auto s3 = connect(w3);
  const int fd3 = s3->native_handle();
  pool_.put(worker(), std::move(s3), 2, t0_ + milliseconds(2));
  EXPECT_EQ(pool_.idle(), 2u);
  EXPECT_EQ(pool_.counters().overflow, 1u);
  EXPECT_EQ(pool_.take(worker(), t0_ + milliseconds(3))->native_handle(), fd3);  // most recent first
  EXPECT_EQ(pool_.take(worker(), t0_ + milliseconds(3))->native_handle(), fd2);
  EXPECT_FALSE(pool_.take(worker(), t0_ + milliseconds(3)));
}
