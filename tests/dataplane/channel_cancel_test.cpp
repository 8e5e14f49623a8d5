// cancel() of a pending read must never lose or desynchronise data: the SSE relay cancels
// reads to inject keepalives. Asio completes a read at once when data is already there, so
// to land cancels on reads that are really pending (mid-frame and between frames) a
// throttling proxy sits between the ends and hands the client 1000 bytes at a time.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "router/dataplane/secure_channel.h"
#include "tests/dataplane/test_loop.h"

namespace qmesh::dataplane {
namespace {

using namespace test;

net::awaitable<void> pipe(tcp::socket& from, tcp::socket& to) {
  std::vector<char> buf(16384);
  for (;;) {
    error_code ec;
    const std::size_t n = co_await from.async_read_some(net::buffer(buf), awaitEc(ec));
    if (n) co_await net::async_write(to, net::buffer(buf.data(), n), awaitEc(ec));
    if (ec) co_return;
  }
}

// Writes `s` in pieces of varying size (frames from 1 byte to the 64 KiB maximum), then FINAL.
net::awaitable<error_code> sendInPieces(SecureChannel& ch, const std::string& s) {
  std::mt19937 rng(3);
  error_code ec;
  for (std::size_t at = 0; at < s.size() && !ec;) {
    const std::size_t n = std::min<std::size_t>(s.size() - at, 1 + rng() % 70000);
    co_await net::async_write(ch, net::buffer(s.data() + at, n), awaitEc(ec));
    at += n;
  }
  if (!ec) ec = co_await ch.sendFinal();
  co_return ec;
}

class ThrottledPair {
 public:
  ThrottledPair(net::io_context& io, const Identity& a, const Identity& b)
      : io_(io), client(io.get_executor()), server(io.get_executor()), toClient_(io), toServer_(io) {
    auto front = loopbackAcceptor(io);
    auto back = loopbackAcceptor(io);
    auto accepted = spawn(io, acceptInto(front, toClient_));
    auto cErr = spawn(io, client.connect("127.0.0.1", front.local_endpoint().port(), a, b.id(), 5s));
    EXPECT_TRUE(runUntil(io, [&] { return accepted->has_value(); }));
    toServer_.connect(back.local_endpoint());
    back.accept(server.socket());
    spawnVoid(io, pipe(toClient_, toServer_));
    auto sErr = spawn(io, server.handshakeAsServer(b, [](const NodeId&) { return true; }, 5s));
    EXPECT_TRUE(runUntil(io, [&] {
      forward(SIZE_MAX);
      return cErr->has_value() && sErr->has_value();
    }));
    EXPECT_FALSE(cErr->value_or(net::error::timed_out));
    EXPECT_FALSE(sErr->value_or(net::error::timed_out));
  }

  // Hands up to `max` bytes the server has sent to the client; how many it handed.
  std::size_t forward(std::size_t max) {
    error_code ec;
    const std::size_t ready = toServer_.available(ec);
    if (ec || ready == 0) return 0;
    std::vector<char> buf(std::min(ready, max));
    const std::size_t n = toServer_.read_some(net::buffer(buf), ec);
    net::write(toClient_, net::buffer(buf.data(), n), ec);
    return n;
  }

  // Runs ready handlers until none is left: whatever read is still open is truly pending.
  void settle() {
    while (io_.poll() > 0) {
    }
    if (io_.stopped()) io_.restart();
  }

 private:
  net::io_context& io_;

 public:
  SecureChannel client;
  SecureChannel server;

 private:
  tcp::socket toClient_;  // proxy <-> client
  tcp::socket toServer_;  // proxy <-> server
};

TEST(ChannelCancelTest, CancelledPendingReadOnAnIdleChannelIsAborted) {
  net::io_context io;
  ChannelPair p(io, identityFromByte(1), identityFromByte(2));
  error_code first;
  bool done = false;
  char buf[16];
  p.client.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) { first = ec, done = true; });
  net::post(io, [&] { p.client.cancel(); });
  ASSERT_TRUE(runUntil(io, [&] { return done; }));
  EXPECT_EQ(first, net::error::operation_aborted);
  EXPECT_FALSE(runCoro(io, writeString(p.server, "still in sync")));
  EXPECT_EQ(runCoro(io, readAll(p.client, 13)).data, "still in sync");
}

TEST(ChannelCancelTest, CancelsMidFrameAndBetweenFramesLoseNoBytes) {
  net::io_context io;
  ThrottledPair p(io, identityFromByte(1), identityFromByte(2));
  std::string sent(1 << 20, '\0');
  std::mt19937 rng(11);
  for (auto& c : sent) c = static_cast<char>(rng());
  auto sender = spawn(io, sendInPieces(p.server, sent));

  std::string got;
  std::vector<char> chunk(7000);
  int aborted = 0;
  bool cancelNext = true;
  error_code last;
  while (last != net::error::eof) {
    bool finished = false;
    p.client.async_read_some(net::buffer(chunk), [&](error_code ec, std::size_t n) {
      got.append(chunk.data(), n);
      last = ec;
      aborted += ec == net::error::operation_aborted;
      finished = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (p.settle(); !finished; p.settle()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "stalled after " << got.size() << " bytes";
      if (cancelNext) p.client.cancel();
      else if (p.forward(1000) == 0) io.run_one_for(10ms);  // the server is still writing
      cancelNext = !cancelNext;
    }
    ASSERT_TRUE(!last || last == net::error::operation_aborted || last == net::error::eof) << last.message();
  }
  EXPECT_GT(aborted, 500) << "cancels must have hit pending reads";
  EXPECT_TRUE(got == sent) << "got " << got.size() << " of " << sent.size() << " bytes";
  EXPECT_TRUE(runUntil(io, [&] { return sender->has_value(); }));
  EXPECT_FALSE(sender->value_or(net::error::timed_out));
}

}  // namespace
}  // namespace qmesh::dataplane
