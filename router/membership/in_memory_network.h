// A network that lives in one process and one simulated timeline: each attached endpoint is a
// Transport, and a datagram is delivered by a SimScheduler event after the configured delay,
// unless the loss switch (a seeded RNG), a partition or a downed node drops it. Used by the
// membership tests and bench/gossip_sim; the same protocol code runs over UDP in production.
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
    uint64_t bytesSent = 0;
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
  bool canReach(const Address& from, const Address& to) const;
  int groupOf(const Address& a) const;

  SimScheduler& scheduler_;
  SeededRandom random_;
  double dropProbability_ = 0.0;
  Duration delay_ = Duration::zero();
  Duration jitter_ = Duration::zero();
  std::unordered_map<Address, Endpoint*> endpoints_;
  std::unordered_map<Address, int> group_;
  std::set<Address> down_;
  std::set<std::pair<Address, Address>> blocked_;
  Tap tap_;
  std::unordered_map<Address, uint64_t> bytesBy_;
  Stats stats_;
};

}  // namespace qmesh::membership
