#include "router/status_client.h"

#include "common/logging.h"

namespace qmesh::router {

std::chrono::milliseconds statusRetryDelay(int failures) {
  int64_t ms = 100;
  for (int i = 1; i < failures && ms < 2000; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, 2000));
}

StatusClient::StatusClient(net::io_context& io, HostPort control, OnSnapshot onSnapshot, OnError onError)
    : io_(io), control_(std::move(control)), onSnapshot_(std::move(onSnapshot)), onError_(std::move(onError)),
      retry_(io) {}

void StatusClient::start() { net::co_spawn(io_, loop(), logExceptions("supervisor status client")); }

void StatusClient::stop() {
  stopped_ = true;
  retry_.cancel();
  if (stream_) stream_->close();
}

net::awaitable<Result<StatusSnapshot>> StatusClient::fetch(uint64_t after, bool longPoll) {
  error_code ec;
  const auto addr = net::ip::make_address(control_.host, ec);
  if (ec) co_return makeError("bad control address " + control_.str());
  stream_ = std::make_shared<beast::tcp_stream>(io_);
  auto stream = stream_;  // stop() may replace nothing, but must find this one to close it
  stream->expires_after(std::chrono::seconds(2));
  co_await stream->async_connect(tcp::endpoint(addr, control_.port), awaitEc(ec));
  if (ec) co_return makeError("cannot connect to the supervisor at " + control_.str() + ": " + ec.message());
  http::request<http::empty_body> req{http::verb::get, longPoll ? "/status?after=" + std::to_string(after) : "/status", 11};
  req.set(http::field::host, control_.str());
  req.keep_alive(false);
  // The supervisor answers a long poll after ~25 s at the latest; allow for that plus slack.
  stream->expires_after(std::chrono::seconds(longPoll ? 40 : 5));
  co_await http::async_write(*stream, req, awaitEc(ec));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  if (!ec) co_await http::async_read(*stream, buf, res, awaitEc(ec));
  stream->close();
  if (ec) co_return makeError("supervisor " + control_.str() + " /status failed: " + ec.message());
  if (res.result() != http::status::ok)
    co_return makeError("supervisor " + control_.str() + " /status answered " + std::to_string(res.result_int()));
  co_return parseSupervisorStatus(res.body());
}

net::awaitable<void> StatusClient::loop() {
  uint64_t generation = 0;
  bool haveSnapshot = false;
  int failures = 0;
  while (!stopped_) {
    auto r = co_await fetch(generation, haveSnapshot);
    if (stopped_) break;
    if (r) {
      if (failures > 0) spdlog::info("supervisor {} reachable again", control_.str());
      failures = 0;
      haveSnapshot = true;
      generation = r->generation;
      onSnapshot_(*r);
      continue;
    }
    if (failures++ == 0) spdlog::warn("{}", r.error().message);
    onError_(r.error().message);
    haveSnapshot = false;  // after an outage, ask for the current state at once
    retry_.expires_after(statusRetryDelay(failures));
    error_code ec;
    co_await retry_.async_wait(awaitEc(ec));
  }
}

}  // namespace qmesh::router
