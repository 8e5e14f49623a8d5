#include "router/dataplane/pending_channel.h"

#include "common/logging.h"

namespace qmesh::dataplane::detail {
namespace {

void logEscaped(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("data plane: handshake coroutine threw (a bug): {}", x.what());
  } catch (...) {
    spdlog::error("data plane: handshake coroutine threw (a bug)");
  }
}

}  // namespace

void ListenerShared::countHandshakeFailure(const error_code& ec) {
  if (ec.category() == dataplane_category() && ec.value() > 0 &&
      static_cast<std::size_t>(ec.value()) < counters.handshakeFailuresByReason.size())
    ++counters.handshakeFailuresByReason[static_cast<std::size_t>(ec.value())];
  else
    ++counters.handshakeIoErrors;
}

void ListenerShared::admitPending(uint64_t id, const net::ip::address& source) {
  for (uint64_t old : pending.admit(id, source))
    if (auto it = handshaking.find(old); it != handshaking.end())
      if (auto p = it->second.lock()) p->evict();
  counters.pendingHandshakes = pending.pending();
  counters.evictedPendingCap = pending.counters().evictedTotalCap;
  counters.evictedPerSourceCap = pending.counters().evictedPerSourceCap;
}

void ListenerShared::releasePending(uint64_t id) {
  pending.release(id);
  counters.pendingHandshakes = pending.pending();
}

PendingChannel::PendingChannel(std::shared_ptr<ListenerShared> shared, tcp::socket accepted, uint64_t id)
    : shared_(std::move(shared)), id_(id), channel_(std::move(accepted)) {}

void PendingChannel::start() { net::co_spawn(shared_->executor, run(shared_from_this()), logEscaped); }

void PendingChannel::abort() { channel_.close(); }

void PendingChannel::evict() {
  evicted_ = true;
  abort();  // the handshake fails at once and run() finishes
}

net::awaitable<void> PendingChannel::run(std::shared_ptr<PendingChannel> self) {
  auto shared = shared_;
  AcceptFn accept = [shared](const NodeId& peer) {
    return !shared->stopped && shared->options.accept && shared->options.accept(peer);
  };
  error_code ec = co_await channel_.handshakeAsServer(shared->self, accept, shared->options.handshakeTimeout);
  shared->releasePending(id_);
  shared->handshaking.erase(id_);
  if (ec || shared->stopped) {
    if (ec && !shared->stopped && !evicted_) {
      shared->countHandshakeFailure(ec);
      spdlog::debug("data plane: handshake failed: {}", ec.message());
    }
    channel_.close();
    co_return;
  }
  ++shared->counters.authenticated;
  spdlog::debug("data plane: channel from {} authenticated", channel_.peer().shortHex());
  if (shared->options.onChannel)
    shared->options.onChannel(std::move(channel_));
  else
    channel_.close();
}

}  // namespace qmesh::dataplane::detail
