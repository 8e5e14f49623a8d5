#include "router/dataplane/listener.h"

#include "common/logging.h"

#include "router/dataplane/pending_channel.h"
#include "router/dataplane/tcp_liveness.h"

namespace qmesh::dataplane {
namespace {

net::awaitable<void> acceptLoop(std::shared_ptr<detail::ListenerShared> shared) {
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await shared->acceptor.async_accept(awaitEc(ec));
    if (shared->stopped || !shared->acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: the listener must survive them; back off so we do not spin.
      spdlog::warn("data plane: accept failed: {}", ec.message());
      net::steady_timer t(shared->executor, std::chrono::milliseconds(50));
      co_await t.async_wait(awaitEc(ec));
      continue;
    }
    ++shared->counters.accepted;
    const auto source = socket.remote_endpoint(ec).address();
    // Before the handshake: a channel whose peer vanished silently must not live forever.
    if (!ec) ec = applyTcpLiveness(socket, tcpLivenessFor(shared->options.silentPeerLimit));
    if (ec) {  // reset before we looked: nothing to serve
      ++shared->counters.handshakeIoErrors;
      socket.close(ec);
      continue;
    }
    const uint64_t id = shared->nextId++;
    auto p = std::make_shared<detail::PendingChannel>(shared, std::move(socket), id);
    shared->handshaking.emplace(id, p);
    shared->admitPending(id, source);  // may evict older pending handshakes
    p->start();
  }
}

}  // namespace

DataPlaneListener::DataPlaneListener(net::any_io_executor ex, const Identity& self, DataPlaneListenerOptions options)
    : shared_(std::make_shared<detail::ListenerShared>(ex, self, std::move(options))) {}

DataPlaneListener::~DataPlaneListener() { stop(); }

error_code DataPlaneListener::open(const HostPort& listen) {
  error_code ec;
  auto& acceptor = shared_->acceptor;
  const auto addr = net::ip::make_address(listen.host, ec);
  if (ec) return ec;
  const tcp::endpoint ep(addr, listen.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
  }
  return ec;
}

uint16_t DataPlaneListener::port() const {
  error_code ec;
  const auto ep = shared_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void DataPlaneListener::start() {
  net::co_spawn(shared_->executor, acceptLoop(shared_), [](std::exception_ptr e) {
    if (e) spdlog::error("data plane: accept loop threw (a bug)");
  });
}

void DataPlaneListener::stop() {
  if (shared_->stopped) return;
  shared_->stopped = true;
  error_code ignored;
  shared_->acceptor.close(ignored);
  // Copy: handshakes unregister themselves as they end.
  auto handshaking = shared_->handshaking;
  for (auto& [id, weak] : handshaking)
    if (auto p = weak.lock()) p->abort();
}

const DataPlaneCounters& DataPlaneListener::counters() const { return shared_->counters; }

}  // namespace qmesh::dataplane
