// Helpers for the data-plane tests: drive one io_context until a condition holds or a
// deadline passes (never sleep), run a coroutine to its result, and build channel pairs.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "router/dataplane/secure_channel.h"

namespace qmesh::dataplane::test {

using namespace std::chrono_literals;

inline Identity identityFromByte(uint8_t b) {
  std::array<uint8_t, 32> seed{};
  seed.fill(b);
  return Identity::fromSeed(seed);
}

// True if done() held before the deadline.
inline bool runUntil(net::io_context& io, const std::function<bool()>& done,
                     std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(10ms);
  }
  return true;
}

// Spawns `aw`; the result appears in the returned optional when the coroutine ends.
template <class T>
std::shared_ptr<std::optional<T>> spawn(net::io_context& io, net::awaitable<T> aw) {
  auto out = std::make_shared<std::optional<T>>();
  net::co_spawn(io, std::move(aw), [out](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    *out = std::move(v);
  });
  return out;
}

inline std::shared_ptr<bool> spawnVoid(net::io_context& io, net::awaitable<void> aw) {
  auto done = std::make_shared<bool>(false);
  net::co_spawn(io, std::move(aw), [done](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
    *done = true;
  });
  return done;
}

template <class T>
T runCoro(net::io_context& io, net::awaitable<T> aw, std::chrono::milliseconds limit = 10s) {
  auto out = spawn(io, std::move(aw));
  if (!runUntil(io, [&] { return out->has_value(); }, limit)) {
    ADD_FAILURE() << "coroutine did not finish in time";
    return T{};
  }
  return std::move(**out);
}

template <class Stream>
net::awaitable<error_code> writeString(Stream& stream, std::string s) {
  error_code ec;
  co_await net::async_write(stream, net::buffer(s), awaitEc(ec));
  co_return ec;
}

struct ReadResult {
  std::string data;
  error_code ec;  // what ended the reading
};

// Reads until an error (eof included) or until `want` bytes arrived.
template <class Stream>
net::awaitable<ReadResult> readAll(Stream& stream, std::size_t want = SIZE_MAX) {
  ReadResult r;
  std::vector<char> buf(50000);
  while (r.data.size() < want) {
    const std::size_t n = co_await stream.async_read_some(net::buffer(buf), awaitEc(r.ec));
    r.data.append(buf.data(), n);
    if (r.ec) break;
  }
  co_return r;
}

inline net::awaitable<error_code> acceptInto(tcp::acceptor& acceptor, tcp::socket& socket) {
  error_code ec;
  co_await acceptor.async_accept(socket, awaitEc(ec));
  co_return ec;
}

inline tcp::acceptor loopbackAcceptor(net::io_context& io) {
  return tcp::acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
}

// Client and server channels after a successful handshake over loopback.
struct ChannelPair {
  ChannelPair(net::io_context& io, const Identity& clientId, const Identity& serverId)
      : client(io.get_executor()), server(io.get_executor()) {
    auto acceptor = loopbackAcceptor(io);
    auto accepted = spawn(io, acceptInto(acceptor, server.socket()));
    auto cErr = spawn(io, client.connect("127.0.0.1", acceptor.local_endpoint().port(), clientId, serverId.id(), 5s));
    EXPECT_TRUE(runUntil(io, [&] { return accepted->has_value(); }));
    auto sErr = spawn(io, server.handshakeAsServer(serverId, [](const NodeId&) { return true; }, 5s));
    EXPECT_TRUE(runUntil(io, [&] { return cErr->has_value() && sErr->has_value(); }));
    EXPECT_FALSE(**cErr) << (*cErr)->message();
    EXPECT_FALSE(**sErr) << (*sErr)->message();
  }
  SecureChannel client;
  SecureChannel server;
};

}  // namespace qmesh::dataplane::test
