#include "router/proxy/local_upstream.h"

#include "router/router_services.h"

namespace qmesh::router {

LocalUpstream::LocalUpstream(Worker& w, RouterServices& services, net::any_io_executor ex)
    : worker_(w), services_(services), socket_(ex), connectTimer_(ex) {}

LocalUpstream::~LocalUpstream() { close(); }

net::awaitable<error_code> LocalUpstream::connect(bool fresh) {
  error_code ec;
  const auto addr = net::ip::make_address(worker_.info.host, ec);
  if (ec) co_return ec;
  endpoint_ = tcp::endpoint(addr, worker_.info.port);
  if (auto pooled = fresh ? nullptr : services_.localConnections.take(endpoint_, services_.context.clock.now())) {
    socket_ = std::move(*pooled);
    reused_ = true;
    co_return error_code{};
  }
  reused_ = false;
  connectTimer_.expires_after(services_.context.config.connect_timeout);
  connectTimer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](error_code e) {
    if (!e && !alive.expired()) socket_.close();  // a connect that hangs: treat as refused
  });
  co_await socket_.async_connect(endpoint_, awaitEc(ec));
  connectTimer_.cancel();
  if (!ec) socket_.set_option(tcp::no_delay(true), ec);
  co_return ec;
}

void LocalUpstream::prepare(UpstreamRequest& req) const {
  req.set(http::field::host, worker_.info.host + ":" + std::to_string(worker_.info.port));
  req.keep_alive(true);  // the connection goes back to the pool for the next request
}

void LocalUpstream::releaseForReuse() {
  if (services_.sessions.draining() || !http_.reusable() || !socket_.is_open()) return;
  services_.localConnections.put(endpoint_, std::make_unique<tcp::socket>(std::move(socket_)),
                           static_cast<std::size_t>(std::max<int64_t>(worker_.info.slots, 0)), services_.context.clock.now());
}

void LocalUpstream::cancelRead() {
  error_code ignored;
  socket_.cancel(ignored);
}

void LocalUpstream::close() {
  error_code ignored;
  connectTimer_.cancel();
  if (socket_.is_open()) {
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
}

void LocalUpstream::markUnreachable() {
  services_.context.directory.markUnreachable(worker_, services_.context.clock.now(), services_.context.config.unreachable_hold);
}

std::string LocalUpstream::route(std::string_view self, std::string_view why) const {
  return std::string(self) + "/" + worker_.id + " (" + std::string(why) + ")";
}

}  // namespace qmesh::router
