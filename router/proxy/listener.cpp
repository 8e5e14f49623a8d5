#include "router/proxy/listener.h"

#include "common/logging.h"
#include "router/proxy/http_session.h"
#include "router/proxy/routes.h"

namespace qmesh::router {

Listener::Listener(net::io_context& io, std::shared_ptr<RouterServices> services)
    : io_(io), acceptor_(io), services_(std::move(services)) {}

error_code Listener::open(const HostPort& address) {
  error_code ec;
  const auto addr = net::ip::make_address(address.host, ec);
  if (ec) return ec;
  const tcp::endpoint ep(addr, address.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  // "[::]" serves IPv4 too (the supervisor's health poll and mesh hops come from 127.0.0.1),
  // whatever net.ipv6.bindv6only says.
  if (!ec && addr.is_v6() && addr.to_v6().is_unspecified()) acceptor_.set_option(net::ip::v6_only(false), ec);
  if (!ec) acceptor_.bind(ep, ec);
  // A deep backlog: the 512-stream benchmark connects all at once.
  if (!ec) acceptor_.listen(4096, ec);
  if (ec) {
    error_code ignored;
    acceptor_.close(ignored);
  }
  return ec;
}

uint16_t Listener::port() const {
  error_code ec;
  const auto ep = acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Listener::start() {
  net::co_spawn(io_, acceptLoop(), logExceptions("accept loop"));
}

void Listener::stop() {
  error_code ignored;
  acceptor_.close(ignored);
}

net::awaitable<void> Listener::acceptLoop() {
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(awaitEc(ec));
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: the listener must survive them; back off so we do not spin.
      spdlog::warn("accept failed: {}", ec.message());
      net::steady_timer t(io_, std::chrono::milliseconds(50));
      co_await t.async_wait(awaitEc(ec));
      continue;
    }
    if (services_->sessions.atCapacity() && !evictIdle()) {
      turnAway(std::move(socket));
      continue;
    }
    std::make_shared<HttpSession>(std::move(socket), services_)->start();
  }
}

bool Listener::evictIdle() {
  if (!services_->sessions.evictLongestIdle()) return false;
  services_->context.metrics.connectionEvicted();
  return true;
}

void Listener::turnAway(tcp::socket socket) {
  services_->context.metrics.connectionRefused();
  if (services_->sessions.turningAway >= kMaxTurningAway) {
    error_code ignored;
    socket.close(ignored);
    return;
  }
  ++services_->sessions.turningAway;
  auto run = [](std::shared_ptr<RouterServices> services, tcp::socket s) -> net::awaitable<void> {
    static const std::string body = openaiError(
        "too many connections: this router serves router.max_connections at once; retry shortly",
        errorTypeFor(503), "too_many_connections");
    static const std::string response =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    beast::tcp_stream stream(std::move(s));
    stream.expires_after(std::chrono::seconds(1));
    error_code ec;
    co_await net::async_write(stream, net::buffer(response), awaitEc(ec));
    // Closing with an unread request in the receive buffer would reset the connection and
    // destroy the answer: stop sending, swallow what comes for up to a second, then close.
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 4096> sink;
    while (!ec) co_await stream.async_read_some(net::buffer(sink), awaitEc(ec));
    --services->sessions.turningAway;
  };
  net::co_spawn(io_, run(services_, std::move(socket)), logExceptions("turning a connection away"));
}

}  // namespace qmesh::router
