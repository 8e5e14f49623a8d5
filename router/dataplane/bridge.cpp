#include "router/dataplane/bridge.h"

#include <spdlog/spdlog.h>

namespace qmesh::dataplane::detail {
namespace {

using router::awaitEc;

// Per direction and bridge. SSE events are small; 16 KiB keeps hundreds of idle streams
// cheap and still moves bulk data in few frames.
constexpr std::size_t kPumpBuffer = 16 * 1024;

void logEscaped(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("data plane: bridge coroutine threw (a bug): {}", x.what());
  } catch (...) {
    spdlog::error("data plane: bridge coroutine threw (a bug)");
  }
}

void closeSocket(tcp::socket& s) {
  error_code ignored;
  if (!s.is_open()) return;
  s.shutdown(tcp::socket::shutdown_both, ignored);
  s.close(ignored);
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
    if (auto it = bridges.find(old); it != bridges.end())
      if (auto bridge = it->second.lock()) bridge->evict();
  counters.pendingHandshakes = pending.pending();
  counters.evictedPendingCap = pending.counters().evictedTotalCap;
  counters.evictedPerSourceCap = pending.counters().evictedPerSourceCap;
}

void ListenerShared::releasePending(uint64_t id) {
  pending.release(id);
  counters.pendingHandshakes = pending.pending();
}

Bridge::Bridge(std::shared_ptr<ListenerShared> shared, tcp::socket accepted, uint64_t id)
    : shared_(std::move(shared)), id_(id), channel_(std::move(accepted)), target_(shared_->executor),
      timer_(shared_->executor) {}

void Bridge::start() { net::co_spawn(shared_->executor, run(shared_from_this()), logEscaped); }

void Bridge::abort() {
  timer_.cancel();
  channel_.close();
  closeSocket(target_);
}

void Bridge::evict() {
  evicted_ = true;
  abort();  // the handshake fails at once and run() finishes
}

void Bridge::notifyClosed() {
  if (!opened_ || closedNotified_) return;
  closedNotified_ = true;
  --shared_->counters.activeBridges;
  if (shared_->options.onBridgeClosed) shared_->options.onBridgeClosed(targetPort_);
}

net::awaitable<void> Bridge::run(std::shared_ptr<Bridge> self) {
  auto shared = shared_;
  AcceptFn accept = [shared](const NodeId& peer) {
    return !shared->stopped && shared->options.accept && shared->options.accept(peer);
  };
  error_code ec = co_await channel_.handshakeAsServer(shared->self, accept, shared->options.handshakeTimeout);
  shared->releasePending(id_);
  if (ec) {
    if (!shared->stopped && !evicted_) {
      shared->countHandshakeFailure(ec);
      spdlog::debug("data plane: handshake failed: {}", ec.message());
    }
    co_return finish();
  }
  ec = co_await connectTarget();
  if (ec || shared->stopped) {
    if (ec) {
      ++shared->counters.targetConnectFailures;
      spdlog::warn("data plane: cannot reach the local router at {}: {}", shared->options.target.str(),
                   ec.message());
    }
    abort();
    co_return finish();
  }
  targetPort_ = target_.local_endpoint(ec).port();
  opened_ = true;
  ++shared->counters.bridged;
  ++shared->counters.activeBridges;
  spdlog::debug("data plane: bridge from {} on local port {}", channel_.peer().shortHex(), targetPort_);
  // Before any byte moves: the router must know this port is a mesh hop.
  if (shared->options.onBridgeOpen) shared->options.onBridgeOpen(targetPort_, channel_.peer());

  fromPeer_.resize(kPumpBuffer);
  toPeer_.resize(kPumpBuffer);
  pumpsLeft_ = 2;
  net::co_spawn(shared->executor, targetToPeer(self), logEscaped);
  co_await peerToTarget(self);
}

net::awaitable<error_code> Bridge::connectTarget() {
  error_code ec;
  const auto& t = shared_->options.target;
  const auto addr = net::ip::make_address(t.host, ec);
  if (ec) co_return ec;
  timer_.expires_after(shared_->options.targetConnectTimeout);
  connecting_ = true;
  connectTimedOut_ = false;
  timer_.async_wait([weak = weak_from_this()](error_code e) {
    auto self = weak.lock();
    // The flag, not the error code: expiry may already be queued when the connect wins.
    if (e || !self || !self->connecting_) return;
    self->connectTimedOut_ = true;
    closeSocket(self->target_);
  });
  co_await target_.async_connect(tcp::endpoint(addr, t.port), awaitEc(ec));
  connecting_ = false;
  timer_.cancel();
  if (connectTimedOut_) co_return net::error::timed_out;
  if (!ec) target_.set_option(tcp::no_delay(true), ec);
  co_return ec;
}

net::awaitable<void> Bridge::peerToTarget(std::shared_ptr<Bridge> self) {
  auto& counters = shared_->counters;
  bool targetWritable = true;
  for (;;) {
    error_code ec;
    const std::size_t n = co_await channel_.async_read_some(net::buffer(fromPeer_), awaitEc(ec));
    if (n > 0 && targetWritable) {
      error_code wec;
      co_await net::async_write(target_, net::buffer(fromPeer_.data(), n), awaitEc(wec));
      if (!wec) {
        counters.bytesFromPeers += n;
      } else if (!targetDone_) {
        abort();  // the router dropped the connection mid-request: the peer must see it
        break;
      } else {
        targetWritable = false;  // the router answered and left: discard the rest
      }
    }
    if (ec == net::error::eof) {  // the peer's FINAL: the request is complete
      error_code ignored;
      target_.shutdown(tcp::socket::shutdown_send, ignored);
      break;
    }
    if (ec) {
      // Truncated, tampered or reset: the client on the other node is gone, so the router
      // here must see its client gone too. After our FINAL this is just the peer leaving.
      if (!targetDone_) abort();
      break;
    }
  }
  pumpDone();
}

net::awaitable<void> Bridge::targetToPeer(std::shared_ptr<Bridge> self) {
  auto& counters = shared_->counters;
  for (;;) {
    error_code ec;
    const std::size_t n = co_await target_.async_read_some(net::buffer(toPeer_), awaitEc(ec));
    if (n > 0) {
      error_code wec;
      co_await net::async_write(channel_, net::buffer(toPeer_.data(), n), awaitEc(wec));
      if (wec) {
        abort();
        break;
      }
      counters.bytesToPeers += n;
    }
    if (ec == net::error::eof) {
      targetDone_ = true;
      if (error_code fec = co_await channel_.sendFinal()) {
        abort();
        break;
      }
      armLinger();
      break;
    }
    if (ec) {  // reset or aborted: no FINAL, so the peer reads `truncated`
      abort();
      break;
    }
  }
  pumpDone();
}

void Bridge::armLinger() {
  timer_.expires_after(shared_->options.finalLinger);
  timer_.async_wait([weak = weak_from_this()](error_code ec) {
    if (auto self = weak.lock(); self && !ec) self->abort();
  });
}

void Bridge::pumpDone() {
  if (--pumpsLeft_ == 0) finish();
}

void Bridge::finish() {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  channel_.close();
  closeSocket(target_);
  shared_->bridges.erase(id_);
  notifyClosed();
}

}  // namespace qmesh::dataplane::detail
