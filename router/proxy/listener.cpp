#include "router/proxy/listener.h"

#include <spdlog/spdlog.h>

#include "router/proxy/http_session.h"

namespace qmesh::router {

Listener::Listener(net::io_context& io, std::shared_ptr<RouterState> state)
    : io_(io), acceptor_(io), state_(std::move(state)) {}

error_code Listener::open(const HostPort& address) {
  error_code ec;
  const auto addr = net::ip::make_address(address.host, ec);
  if (ec) return ec;
  const tcp::endpoint ep(addr, address.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
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
    std::make_shared<HttpSession>(std::move(socket), state_)->start();
  }
}

}  // namespace qmesh::router
