// Internal to DataPlaneListener (see listener.h for the rules it implements): one accepted
// data-plane connection, from accept to the end of its handshake, when the authenticated
// channel goes to the owner (onChannel) or the connection is closed.
#pragma once

#include <memory>
#include <unordered_map>

#include "router/dataplane/listener.h"
#include "router/membership/pending_admission.h"

namespace qmesh::dataplane::detail {

class PendingChannel;

// What the listener and its pending handshakes share; they keep it alive past the listener.
struct ListenerShared {
  ListenerShared(net::any_io_executor ex, const Identity& id, DataPlaneListenerOptions opts)
      : executor(ex), self(id), options(std::move(opts)), acceptor(ex),
        pending({options.maxPendingHandshakes, options.maxPendingPerSource}) {}
  void countHandshakeFailure(const error_code& ec);
  // Records the accepted, unauthenticated connection `id` as pending (see the caps in
  // listener.h), evicting (aborting) the oldest pending ones to make room.
  void admitPending(uint64_t id, const net::ip::address& source);
  // The handshake of `id` ended: no-op for an id no longer pending (evicted).
  void releasePending(uint64_t id);

  net::any_io_executor executor;
  Identity self;
  DataPlaneListenerOptions options;
  DataPlaneCounters counters;
  tcp::acceptor acceptor;
  bool stopped = false;
  uint64_t nextId = 0;
  std::unordered_map<uint64_t, std::weak_ptr<PendingChannel>> handshaking;
  membership::PendingAdmission pending;  // handshakes by id
};

class PendingChannel : public std::enable_shared_from_this<PendingChannel> {
 public:
  // Registered as pending (admitPending) by the accept loop; released when its handshake ends.
  PendingChannel(std::shared_ptr<ListenerShared> shared, tcp::socket accepted, uint64_t id);
  // Closes an unfinished handshake to make room for a newer one; counted as an eviction only.
  void evict();
  void start();
  void abort();

 private:
  net::awaitable<void> run(std::shared_ptr<PendingChannel> self);

  std::shared_ptr<ListenerShared> shared_;
  uint64_t id_;
  SecureChannel channel_;
  bool evicted_ = false;
};

}  // namespace qmesh::dataplane::detail
