// qmesh-bench-load: opens N concurrent streaming chat requests against a URL and records,
// per stream, time to first byte (connect start to first body byte), the gap between
// consecutive events as they arrive, and the total time. Prints one JSON object with
// medians and p99s. Single-threaded Asio, so the tool itself adds no lock contention.
// --stamps: events carry their send time ("t", steady-clock ns, from the fake upstream's
// --stamp), so each event's latency upstream -> here is recorded too. --raw: every sample.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "router/net.h"

using namespace qmesh::router;
using Sec = std::chrono::duration<double>;

namespace {

struct Stats {
  bool stamps = false;
  std::vector<double> ttfb, gaps, total, latency;
  uint64_t events = 0, failures = 0;
};

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

net::awaitable<void> oneStream(tcp::endpoint ep, std::string target, std::string body, Stats& st) {
  auto ex = co_await net::this_coro::executor;
  tcp::socket sock(ex);
  error_code ec;
  const TimePoint start = SteadyClock::now();
  co_await sock.async_connect(ep, awaitEc(ec));
  if (ec) { ++st.failures; co_return; }
  sock.set_option(tcp::no_delay(true), ec);
  http::request<http::string_body> req{http::verb::post, target, 11};
  // The router refuses a Host that does not name it when it has no API keys (DNS rebinding).
  const std::string addr = ep.address().to_string();
  req.set(http::field::host, (ep.address().is_v6() ? "[" + addr + "]" : addr) + ":" + std::to_string(ep.port()));
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  req.keep_alive(false);
  co_await http::async_write(sock, req, awaitEc(ec));
  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  co_await http::async_read_header(sock, buf, p, awaitEc(ec));
  if (ec || p.get().result_int() != 200) { ++st.failures; co_return; }
  char data[65536];
  bool first = true;
  TimePoint last{};
  int nl = 0;  // consecutive '\n' seen: "\n\n" ends an event
  std::string cur;  // the event being read (--stamps only)
  while (!p.is_done()) {
    p.get().body().data = data;
    p.get().body().size = sizeof data;
    co_await http::async_read_some(sock, buf, p, awaitEc(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) { ++st.failures; co_return; }
    const std::size_t n = sizeof data - p.get().body().size;
    if (n == 0) continue;
    const TimePoint now = SteadyClock::now();
    if (first) st.ttfb.push_back(Sec(now - start).count());
    first = false;
    for (std::size_t i = 0; i < n; ++i) {
      nl = data[i] == '\n' ? nl + 1 : 0;
      if (st.stamps) cur.push_back(data[i]);
      if (nl == 2 && st.stamps) {
        if (const auto at = cur.find(R"("t":)"); at != std::string::npos) {
          const double sent = std::strtod(cur.c_str() + at + 4, nullptr) * 1e-9;
          st.latency.push_back(std::chrono::duration<double>(now.time_since_epoch()).count() - sent);
        }
        cur.clear();
      }
      if (nl == 2) {
        if (last != TimePoint{}) st.gaps.push_back(Sec(now - last).count());
        last = now;
        ++st.events;
      }
    }
  }
  st.total.push_back(Sec(SteadyClock::now() - start).count());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"SSE load generator: N concurrent streaming requests, latency percentiles as JSON"};
  std::string host = "127.0.0.1", target = "/v1/chat/completions", model = "bench";
  uint16_t port = 0;
  int streams = 1, rounds = 1;
  bool raw = false;
  Stats st;
  app.add_option("--host", host);
  app.add_option("--port", port)->required();
  app.add_option("--path", target);
  app.add_option("--model", model);
  app.add_option("--streams", streams, "concurrent streams");
  app.add_option("--rounds", rounds, "streams opened one after another per concurrency slot");
  app.add_flag("--stamps", st.stamps, "record each event's latency from its \"t\" send time (fake upstream --stamp)");
  app.add_flag("--raw", raw, "also print every sample (ms): ttfb_ms, gap_ms, latency_ms");
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  const std::string body = R"({"model":")" + model + R"(","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  net::io_context io(1);
  const tcp::endpoint ep(net::ip::make_address(host), port);
  for (int s = 0; s < streams; ++s)
    net::co_spawn(io, [&]() -> net::awaitable<void> {
      for (int r = 0; r < rounds; ++r) co_await oneStream(ep, target, body, st);
    }, net::detached);
  const TimePoint t0 = SteadyClock::now();
  io.run();
  const double wall = Sec(SteadyClock::now() - t0).count();
  nlohmann::json out = {{"streams", streams},
                        {"completed", st.total.size()},
                        {"failures", st.failures},
                        {"events", st.events},
                        {"wall_s", wall},
                        {"events_per_s", st.events / wall},
                        {"ttfb_ms_p50", pct(st.ttfb, 0.5) * 1e3},
                        {"ttfb_ms_p99", pct(st.ttfb, 0.99) * 1e3},
                        {"gap_ms_p50", pct(st.gaps, 0.5) * 1e3},
                        {"gap_ms_p99", pct(st.gaps, 0.99) * 1e3},
                        {"total_ms_p50", pct(st.total, 0.5) * 1e3},
                        {"total_ms_p99", pct(st.total, 0.99) * 1e3}};
  if (st.stamps) {
    out["latency_ms_p50"] = pct(st.latency, 0.5) * 1e3;
    out["latency_ms_p99"] = pct(st.latency, 0.99) * 1e3;
  }
  if (raw) {
    auto ms = [](const std::vector<double>& v) {
      std::vector<double> r;
      r.reserve(v.size());
      for (double x : v) r.push_back(x * 1e3);
      return r;
    };
    out["ttfb_ms"] = ms(st.ttfb);
    out["gap_ms"] = ms(st.gaps);
    out["latency_ms"] = ms(st.latency);
  }
  std::cout << out.dump() << std::endl;
  return st.failures == 0 ? 0 : 1;
}
