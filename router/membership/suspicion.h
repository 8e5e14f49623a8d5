// Lifeguard suspicion timeouts (Dadgar et al., "Lifeguard: Local Health Awareness for More
// Accurate Failure Detection", 2018), as pure functions plus a small per-suspect record.
//
// A suspicion starts at the maximum timeout and shrinks towards the minimum as independent
// members confirm it, logarithmically in the number of confirmations:
//   min(N)     = alpha * max(1, log10(N)) * probeInterval
//   max(N)     = beta * min(N)
//   timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1))
// with k = expected confirmations. A lone accuser (maybe the one with the bad network) has
// to wait the long timeout, giving the suspect time to refute; a failure many members see
// is declared quickly. Growing with log10(N) allows for the time gossip needs to reach the
// suspect so it can refute.
#pragma once

#include <chrono>
#include <cstddef>
#include <set>

#include "common/clock.h"
#include "router/membership/node_id.h"

namespace qmesh::membership {

using Duration = std::chrono::steady_clock::duration;

Duration suspicionMinTimeout(double alpha, std::size_t clusterSize, Duration probeInterval);
Duration suspicionTimeout(Duration min, Duration max, std::size_t expectedConfirmations,
                          std::size_t confirmations);
// memberlist's choice: alpha - 2, but no more than the members who could confirm
// (everyone except the suspect and ourselves).
std::size_t expectedConfirmations(double alpha, std::size_t clusterSize);

// One live suspicion: when it started and who has confirmed it.
class Suspicion {
 public:
  Suspicion(TimePoint start, Duration min, Duration max, std::size_t expected, NodeId accuser);

  // Returns true if `from` is a new independent accuser (worth re-gossiping).
  bool confirm(const NodeId& from);
  TimePoint deadline() const;
  std::size_t confirmations() const { return accusers_.size() - 1; }

 private:
  TimePoint start_;
  Duration min_, max_;
  std::size_t expected_;
  std::set<NodeId> accusers_;  // first one is the original accuser, not a confirmation
};

}  // namespace qmesh::membership
