// Bookkeeping for connections anyone can open and nobody has authenticated yet (data-plane
// handshakes, push-pull frames): how many are pending, overall and per source address,
// and which to close when a new one would exceed a cap. No sockets here; the owner closes
// what admit() names.
//
// Policy: the OLDEST pending connection (from the newcomer's source when the per-source cap
// is hit, else overall) makes room, and the newcomer is admitted. An honest peer finishes
// within a round trip, so only a stranger's silent connections grow old. Refusing newcomers
// instead would let a few hundred idle connections lock every member out for as long as the
// stranger keeps renewing them; evicting the oldest costs an honest peer its connection only
// if a cap's worth of newer ones arrives while it is still pending.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "common/net.h"

namespace qmesh::membership {

class PendingAdmission {
 public:
  struct Limits {
    std::size_t total = 256;
    std::size_t perSource = 32;
  };
  struct Counters {
    uint64_t evictedTotalCap = 0;      // closed to make room under `total`
    uint64_t evictedPerSourceCap = 0;  // closed to make room under `perSource`
  };

  explicit PendingAdmission(Limits limits) : limits_(limits) {}

  // Records `id` (ids must grow with time) from `source` as pending and returns the ids the
  // caller must close now, already released. IPv4-mapped IPv6 sources count as IPv4.
  std::vector<uint64_t> admit(uint64_t id, net::ip::address source);
  // `id` finished (or failed); a no-op for an id no longer pending.
  void release(uint64_t id);

  std::size_t pending() const { return pending_.size(); }
  std::size_t pendingFrom(net::ip::address source) const;
  const Counters& counters() const { return counters_; }

 private:
  Limits limits_;
  Counters counters_;
  std::map<uint64_t, net::ip::address> pending_;  // the first is the oldest
  std::map<net::ip::address, std::set<uint64_t>> bySource_;  // sets never empty
};

}  // namespace qmesh::membership
