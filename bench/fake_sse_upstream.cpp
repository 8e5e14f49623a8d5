// qmesh-bench-fake-upstream: a FAKE llama-server for benchmarks. Every POST gets an SSE
// stream of --events events of --event-bytes each, one every --interval-ms, then
// "data: [DONE]" — a fixed token rate and size, so the proxy in between is what is measured,
// not a model. Single-threaded Asio; chunked like llama-server.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "router/net.h"

using namespace qmesh::router;

namespace {

struct Script {
  int events = 100;
  int intervalMs = 20;
  std::size_t eventBytes = 200;
  bool stamp = false;  // "t": steady-clock ns at send, for per-event latency (sse_load --stamps)
  bool keepAlive = true;  // false: "Connection: close" after every response (no pooling possible)
};

std::string chunk(const std::string& data) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "%zx\r\n", data.size());
  return hex + data + "\r\n";
}

// An event shaped like llama-server's, padded to `bytes` in total. With `stamp`, it carries
// the steady clock (CLOCK_MONOTONIC, shared by every process on the host) at send time.
std::string event(std::size_t bytes, int i, bool stamp) {
  const std::string head = R"(data: {"choices":[{"index":0,"delta":{"content":")";
  const std::string t =
      stamp ? R"(,"t":)" + std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            SteadyClock::now().time_since_epoch()).count())
            : "";
  const std::string tail = R"("}}],"object":"chat.completion.chunk","n":)" + std::to_string(i) + t + "}\n\n";
  const std::size_t pad = bytes > head.size() + tail.size() ? bytes - head.size() - tail.size() : 1;
  return chunk(head + std::string(pad, 'x') + tail);
}

net::awaitable<void> serve(tcp::socket sock, Script s) {
  error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    co_await http::async_read(sock, buf, req, awaitEc(ec));
    if (ec) co_return;
    const bool keep = s.keepAlive && req.keep_alive();
    const std::string head = std::string("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                         "Transfer-Encoding: chunked\r\nConnection: ") +
                             (keep ? "keep-alive" : "close") + "\r\n\r\n";
    co_await net::async_write(sock, net::buffer(head), awaitEc(ec));
    net::steady_timer t(sock.get_executor());
    auto next = SteadyClock::now();
    for (int i = 0; i < s.events && !ec; ++i) {
      const std::string e = event(s.eventBytes, i, s.stamp);
      co_await net::async_write(sock, net::buffer(e), awaitEc(ec));
      // A fixed schedule (not sleep-after-write), so a slow reader does not slow the rate.
      next += std::chrono::milliseconds(s.intervalMs);
      t.expires_at(next);
      co_await t.async_wait(awaitEc(ec));
    }
    if (ec) co_return;
    const std::string done = chunk("data: [DONE]\n\n") + "0\r\n\r\n";
    co_await net::async_write(sock, net::buffer(done), awaitEc(ec));
    if (ec || !keep) co_return;
  }
}

net::awaitable<void> acceptLoop(tcp::acceptor& acc, Script s) {
  for (;;) {
    error_code ec;
    tcp::socket sock = co_await acc.async_accept(awaitEc(ec));
    if (ec) co_return;
    net::co_spawn(acc.get_executor(), serve(std::move(sock), s), net::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"FAKE SSE upstream for benchmarks (stands in for llama-server)"};
  uint16_t port = 0;
  Script s;
  app.add_option("--port", port, "loopback port (0 = any; printed)");
  app.add_option("--events", s.events, "events per stream");
  app.add_option("--interval-ms", s.intervalMs, "milliseconds between events");
  app.add_option("--event-bytes", s.eventBytes, "bytes per event");
  app.add_flag("!--no-keepalive", s.keepAlive, "close the connection after every response");
  app.add_flag("--stamp", s.stamp, "put the send time (steady clock, ns) in each event as \"t\"");
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  net::io_context io(1);
  tcp::acceptor acc(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  acc.listen(4096);
  std::cout << "listening " << acc.local_endpoint().port() << std::endl;
  net::co_spawn(io, acceptLoop(acc, s), net::detached);
  net::signal_set sig(io, SIGINT, SIGTERM);
  sig.async_wait([&](error_code, int) { io.stop(); });
  io.run();
}
