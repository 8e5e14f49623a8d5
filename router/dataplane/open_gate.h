// At most `perPeer` data-plane channels being opened (TCP connect + handshake) to one peer at
// a time; further opens wait their turn, first come first served.
//
// Why: the accepting router caps the unfinished handshakes per source address
// (DataPlaneListenerOptions::maxPendingPerSource) and closes the oldest beyond it, as its
// defence against a handshake flood. A burst of requests to one peer (64 clients at once, as
// in bench/cross_node_hop.py) otherwise opens 64 channels at once, the peer closes the
// oldest mid-handshake, and those requests fail. A waiter gives up at its deadline (the
// connect timeout), as a connect would.
//
// Single-threaded, like the rest of the router.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <optional>

#include "common/net.h"
#include "router/membership/node_id.h"

namespace qmesh::dataplane {

using membership::NodeId;

class OpenGate {
 public:
  explicit OpenGate(std::size_t perPeer) : perPeer_(perPeer == 0 ? 1 : perPeer) {}
  OpenGate(const OpenGate&) = delete;
  OpenGate& operator=(const OpenGate&) = delete;

  // One open in flight to a peer, for as long as it lives.
  class Ticket {
   public:
    Ticket(Ticket&& o) noexcept : gate_(o.gate_), peer_(o.peer_) { o.gate_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket();

   private:
    friend class OpenGate;
    Ticket(OpenGate& gate, const NodeId& peer) : gate_(&gate), peer_(peer) {}
    OpenGate* gate_;
    NodeId peer_;
  };

  // A ticket once fewer than perPeer opens to `peer` are in flight and every earlier waiter
  // has had its turn; nullopt when `deadline` passes first.
  net::awaitable<std::optional<Ticket>> enter(NodeId peer, std::chrono::steady_clock::time_point deadline);

  std::size_t opening(const NodeId& peer) const;
  std::size_t waiting(const NodeId& peer) const;

 private:
  struct Waiter {
    net::steady_timer* timer;
    bool woken = false;  // a slot is held for it: it takes it when it resumes
  };
  struct Peer {
    std::size_t opening = 0;
    std::list<Waiter> waiters;
  };
  void release(const NodeId& peer);
  void wakeNext(Peer& p);

  std::size_t perPeer_;
  std::map<NodeId, Peer> peers_;
};

}  // namespace qmesh::dataplane
