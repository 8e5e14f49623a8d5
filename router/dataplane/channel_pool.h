// Idle data-plane channels to other routers, kept for the next request to the same peer.
//
// Why: a fresh channel costs a TCP connect and the signed handshake (about 125 µs of CPU on
// each side on these VMs). HTTP/1.1 keep-alive over a pooled channel skips both.
//
// A channel comes back only after an exchange that ended cleanly (see
// MeshUpstream::releaseForReuse). take() hands out the most recently used channel that is
// still quiescent (SecureChannel::quiescent: a peer that closed it has made it readable)
// and has idled less than maxIdle. maxIdle stays below the peer's keep-alive timeout
// (router.header_timeout, 10 s by default), so a peer seldom closes a channel just as it
// is reused; when it does, the forwarder retries once on a fresh channel. Each idle
// channel is also watched: when its peer closes it, it is closed here at once, so neither
// side keeps the dead connection around.
// Channels to a peer that turns suspect or dead are dropped at once: over a silent
// partition a pooled channel would hang where a fresh connect times out.
//
// Single-threaded, like the rest of the router; time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "router/dataplane/secure_channel.h"

namespace qmesh::dataplane {

struct ChannelPoolOptions {
  std::size_t maxIdlePerPeer = 8;
  std::chrono::milliseconds maxIdle{4000};
};

struct ChannelPoolCounters {
  uint64_t reused = 0;    // take() found one
  uint64_t returned = 0;  // put() kept one
  uint64_t stale = 0;     // closed by the peer or in a bad state when looked at
  uint64_t expired = 0;   // idled longer than maxIdle
  uint64_t overflow = 0;  // put() while maxIdlePerPeer were already idle
  uint64_t dropped = 0;   // dropPeer() and clear()
  uint64_t abortedInFlight = 0;  // channels in use closed by abortInFlight()
};

class ChannelPool {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit ChannelPool(ChannelPoolOptions options = {}) : options_(options) {}
  ~ChannelPool() { clear(); }
  ChannelPool(const ChannelPool&) = delete;
  ChannelPool& operator=(const ChannelPool&) = delete;

  // A channel to `peer` ready for the next exchange, or null: connect a new one.
  std::unique_ptr<SecureChannel> take(const NodeId& peer, TimePoint now);
  // Keeps `channel` (its peer is the one the handshake proved) if it is quiescent.
  void put(std::unique_ptr<SecureChannel> channel, TimePoint now);
  void dropPeer(const NodeId& peer);
  void clear();

  // A channel in use by a request, registered for as long as this guard lives (its owner
  // must destroy the guard before the channel). Why: a pooled channel is dropped when its
  // peer turns suspect, but one carrying a request would otherwise wait on a dead peer
  // until TCP gives up (minutes, or never while we only read).
  class InFlight {
   public:
    InFlight() = default;
    InFlight(InFlight&& o) noexcept : registry_(std::move(o.registry_)), id_(o.id_) { o.registry_.reset(); }
    InFlight& operator=(InFlight&& o) noexcept;
    ~InFlight() { release(); }
    void release();

   private:
    friend class ChannelPool;
    std::weak_ptr<std::map<uint64_t, std::pair<NodeId, SecureChannel*>>> registry_;
    uint64_t id_ = 0;
  };
  [[nodiscard]] InFlight trackInFlight(const NodeId& peer, SecureChannel& channel);
  // The peer was declared dead: closes every channel in use to it, so their requests fail
  // now (the client sees a broken response) instead of hanging. Returns how many.
  std::size_t abortInFlight(const NodeId& peer);

  std::size_t idle() const;
  const ChannelPoolCounters& counters() const { return counters_; }

 private:
  struct Idle {
    std::unique_ptr<SecureChannel> channel;
    TimePoint since;
  };
  // Closes what expired or went stale; the most recently returned stay at the back.
  void prune(std::vector<Idle>& list, TimePoint now);
  // Waits for the idle channel's socket to turn readable: the peer closed it (or broke
  // the protocol by sending while idle), so it goes.
  void watch(const NodeId& peer, SecureChannel* channel);
  void onReadable(const NodeId& peer, SecureChannel* channel);

  ChannelPoolOptions options_;
  ChannelPoolCounters counters_;
  std::map<NodeId, std::vector<Idle>> idle_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // guards watch handlers
  std::shared_ptr<std::map<uint64_t, std::pair<NodeId, SecureChannel*>>> inFlight_ =
      std::make_shared<std::map<uint64_t, std::pair<NodeId, SecureChannel*>>>();
  uint64_t nextInFlight_ = 0;
};

}  // namespace qmesh::dataplane
