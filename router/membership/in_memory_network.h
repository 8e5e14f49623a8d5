// A network that lives in one process and one simulated timeline: each attached endpoint is a
// Transport, and a datagram is delivered by a SimScheduler event after the configured delay,
// unless the loss switch (a seeded RNG), a partition or a downed node drops it. Used by the
// membership tests and bench/gossip_sim; the same protocol code runs over UDP in production.
//
// Endpoints also offer the reliable channel (Transport::sendReliable, TCP in production),
// unless setReliable(false) turns it off to exercise the datagram-only path. A reliable
// message is delivered whole after the fixed delay, or not at all when the receiver is
// down, partitioned or blocked at delivery time. The loss probability applies to datagrams
// only: TCP retransmits what it loses, so random loss costs it time, not the message (that
// time, like bandwidth, is not modelled). Jitter is not drawn for it either, so reliable
// traffic never shifts the random sequence the datagrams see.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/random.h"
#include "router/membership/sim_scheduler.h"
#include "router/membership/transport.h"

namespace qmesh::membership {

class InMemoryNetwork {
 public:
  struct Stats {
    uint64_t sent = 0;        // datagrams handed to send()
    uint64_t delivered = 0;   // reached a receive handler
    uint64_t dropped = 0;     // loss, partition, downed node or nobody listening
    uint64_t oversize = 0;    // refused: larger than the endpoint's maxPayload()
    uint64_t bytesSent = 0;   // datagram and reliable payload bytes
    uint64_t reliableSent = 0;
    uint64_t reliableDelivered = 0;
    uint64_t reliableDropped = 0;  // partition, downed node or nobody listening
    uint64_t reliableBytes = 0;
  };

  InMemoryNetwork(SimScheduler& scheduler, uint64_t seed);
  ~InMemoryNetwork();
  InMemoryNetwork(const InMemoryNetwork&) = delete;
  InMemoryNetwork& operator=(const InMemoryNetwork&) = delete;

  // The endpoint detaches itself when destroyed; datagrams in flight to it are then dropped.
  std::unique_ptr<Transport> attach(const Address& address);

  // Each datagram is lost independently with this probability.
  void setDropProbability(double p) { dropProbability_ = p; }
  // Delay = fixed + uniform [0, jitter); jitter reorders datagrams, as real networks do.
  void setDelay(Duration fixed, Duration jitter = Duration::zero());
  // Whether endpoints report supportsReliable() (true by default).
  void setReliable(bool enabled) { reliable_ = enabled; }

  // Nodes in different groups cannot reach each other; a node in no group is in group 0
  // with every other unlisted node. heal() puts everyone back together.
  void partition(const std::vector<std::vector<Address>>& groups);
  void heal() { group_.clear(); }

  // Cuts the link between two nodes in both directions, leaving their other links alone
  // (what a partition cannot express): the case indirect probes exist for.
  void blockLink(const Address& a, const Address& b);
  void unblockLink(const Address& a, const Address& b);

  // Sees every datagram handed to the network (before loss): lets a test capture real
  // packets to replay or tamper with.
  using Tap = std::function<void(const Address& from, const Address& to, std::span<const uint8_t>)>;
  void setTap(Tap tap) { tap_ = std::move(tap); }
  // The same for reliable messages.
  void setReliableTap(Tap tap) { reliableTap_ = std::move(tap); }

  // A downed node neither sends nor receives: a crash (kill -9) without destroying the
  // object under test, so the test can later bring it back.
  void setDown(const Address& address, bool down);

  const Stats& stats() const { return stats_; }
  uint64_t bytesSentBy(const Address& address) const;

 private:
  class Endpoint;
  friend class Endpoint;
  void send(const Address& from, const Address& to, std::span<const uint8_t> data,
            std::size_t maxPayload);
  void sendReliable(const Address& from, const Address& to, std::span<const uint8_t> data);
  // Runs `deliver` for the endpoint at `to` if it can still be reached; false if not.
  bool deliverTo(const Address& from, const Address& to, std::span<const uint8_t> data);
  bool canReach(const Address& from, const Address& to) const;
  int groupOf(const Address& a) const;

  SimScheduler& scheduler_;
  SeededRandom random_;
  double dropProbability_ = 0.0;
  Duration delay_ = Duration::zero();
  Duration jitter_ = Duration::zero();
  bool reliable_ = true;
  std::unordered_map<Address, Endpoint*> endpoints_;
  std::unordered_map<Address, int> group_;
  std::set<Address> down_;
  std::set<std::pair<Address, Address>> blocked_;
  Tap tap_, reliableTap_;
  std::unordered_map<Address, uint64_t> bytesBy_;
  Stats stats_;
};

}  // namespace qmesh::membership
