#include "router/proxy/upstream_client.h"

#include <limits>

#include "common/node_config.h"
#include "router/dataplane/tcp_liveness.h"

namespace qmesh::router {

UpstreamClient::UpstreamClient(net::any_io_executor ex) : socket_(ex), connectTimer_(ex) {
  parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser_.header_limit(64 * 1024);
  // Beast grows a flat_buffer from 512 bytes; start bigger so one recv takes a whole burst.
  buffer_.reserve(16 * 1024);
}

UpstreamClient::~UpstreamClient() { close(); }

net::awaitable<error_code> UpstreamClient::connect(const std::string& host, uint16_t port,
                                                   std::chrono::milliseconds timeout) {
  error_code ec;
  const auto addr = net::ip::make_address(host, ec);
  if (ec) co_return ec;
  connectTimer_.expires_after(timeout);
  connectTimer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](error_code e) {
    if (!e && !alive.expired()) socket_.close();  // a connect that hangs: treat as refused
  });
  co_await socket_.async_connect(tcp::endpoint(addr, port), awaitEc(ec));
  connectTimer_.cancel();
  if (!ec) socket_.set_option(tcp::no_delay(true), ec);
  co_return ec;
}

net::awaitable<error_code> UpstreamClient::connectMesh(const std::string& address, const membership::NodeId& peer,
                                                       const membership::Identity& self,
                                                       std::chrono::milliseconds timeout,
                                                       std::chrono::milliseconds silentPeerLimit) {
  auto hp = parseHostPort(address);
  if (!hp) co_return make_error_code(net::error::invalid_argument);
  secure_ = std::make_unique<dataplane::SecureChannel>(socket_.get_executor());
  error_code ec = co_await secure_->connect(hp->host, hp->port, self, peer, timeout);
  if (!ec) ec = dataplane::applyTcpLiveness(secure_->socket(), dataplane::tcpLivenessFor(silentPeerLimit));
  co_return ec;
}

net::awaitable<error_code> UpstreamClient::send(http::request<http::span_body<const char>>& req) {
  error_code ec;
  if (secure_)
    co_await http::async_write(*secure_, req, awaitEc(ec));
  else
    co_await http::async_write(socket_, req, awaitEc(ec));
  co_return ec;
}

net::awaitable<error_code> UpstreamClient::readHeader() {
  error_code ec;
  if (secure_)
    co_await http::async_read_header(*secure_, buffer_, parser_, awaitEc(ec));
  else
    co_await http::async_read_header(socket_, buffer_, parser_, awaitEc(ec));
  co_return ec;
}

bool UpstreamClient::isEventStream() const {
  const auto ct = header()[http::field::content_type];
  return ct.substr(0, 17) == "text/event-stream";
}

net::awaitable<std::pair<error_code, std::size_t>> UpstreamClient::readSome(char* buf, std::size_t size) {
  auto& body = parser_.get().body();
  body.data = buf;
  body.size = size;
  error_code ec;
  if (!parser_.is_done()) {
    if (secure_)
      co_await http::async_read_some(*secure_, buffer_, parser_, awaitEc(ec));
    else
      co_await http::async_read_some(socket_, buffer_, parser_, awaitEc(ec));
  }
  if (ec == http::error::need_buffer) ec = {};  // buf is full: not an error, just hand it on
  const std::size_t n = size - body.size;
  body.data = nullptr;
  body.size = 0;
  co_return std::make_pair(ec, n);
}

std::unique_ptr<dataplane::SecureChannel> UpstreamClient::releaseMesh() {
  if (!secure_ || !parser_.is_done() || !parser_.keep_alive() || buffer_.size() != 0) return nullptr;
  inFlight_.release();  // idle now: the pool's own rules (dropPeer) take over
  return std::move(secure_);
}

void UpstreamClient::cancelRead() {
  error_code ignored;
  if (secure_) secure_->cancel();
  else socket_.cancel(ignored);
}

void UpstreamClient::close() {
  error_code ignored;
  connectTimer_.cancel();
  if (secure_) secure_->close();
  if (socket_.is_open()) {
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
}

}  // namespace qmesh::router
