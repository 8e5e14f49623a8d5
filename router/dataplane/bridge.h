// Internal to DataPlaneListener (see listener.h for the shutdown rules it implements): one
// accepted data-plane connection, from handshake to the plaintext bridge and its end.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "router/dataplane/listener.h"
#include "router/membership/pending_admission.h"

namespace qmesh::dataplane::detail {

class Bridge;

// What the listener and its bridges share; bridges keep it alive past the listener.
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
  uint64_t nextBridgeId = 0;
  std::unordered_map<uint64_t, std::weak_ptr<Bridge>> bridges;
  membership::PendingAdmission pending;  // handshakes by bridge id
};

class Bridge : public std::enable_shared_from_this<Bridge> {
 public:
  // Registered as pending (admitPending) by the accept loop; released when its handshake ends.
  Bridge(std::shared_ptr<ListenerShared> shared, tcp::socket accepted, uint64_t id);
  // Closes an unfinished handshake to make room for a newer one; counted as an eviction only.
  void evict();
  void start();
  // Closes both ends at once: both peers see the connection drop, not a clean end.
  void abort();
  // The onBridgeClosed callback, once, if the bridge was opened.
  void notifyClosed();

 private:
  net::awaitable<void> run(std::shared_ptr<Bridge> self);
  net::awaitable<error_code> connectTarget();
  net::awaitable<void> peerToTarget(std::shared_ptr<Bridge> self);
  net::awaitable<void> targetToPeer(std::shared_ptr<Bridge> self);
  void armLinger();
  void pumpDone();
  void finish();

  std::shared_ptr<ListenerShared> shared_;
  uint64_t id_;
  SecureChannel channel_;
  tcp::socket target_;
  net::steady_timer timer_;  // target connect deadline, then the FINAL linger
  uint16_t targetPort_ = 0;
  bool opened_ = false;
  bool evicted_ = false;
  bool closedNotified_ = false;
  bool targetDone_ = false;  // target sent EOF and we sent FINAL
  bool finished_ = false;
  bool connecting_ = false;
  bool connectTimedOut_ = false;
  int pumpsLeft_ = 0;
  std::vector<uint8_t> fromPeer_;
  std::vector<uint8_t> toPeer_;
};

}  // namespace qmesh::dataplane::detail
