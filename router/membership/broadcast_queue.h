// Claims waiting to be piggybacked. SWIM disseminates by infection: each claim rides on
// outgoing packets a bounded number of times (retransmitLimit = lambda * ceil(log10(N+1)),
// enough to reach everyone with high probability), least-sent first so fresh news spreads
// fastest. A newer claim about a member replaces any queued older one: it supersedes it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "router/membership/node_id.h"

namespace qmesh::membership {

int retransmitLimit(int lambda, std::size_t clusterSize);

class BroadcastQueue {
 public:
  // `framed` is one encoded message (see encodeMessage).
  void enqueue(const NodeId& subject, std::vector<uint8_t> framed);

  // Appends claims to `out` while they fit in `budget` bytes; each one appended counts a
  // transmission, and claims sent `limit` times leave the queue. Returns how many appended.
  std::size_t fill(std::vector<uint8_t>& out, std::size_t budget, int limit);

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  // Transmissions so far of the queued claim about subject; -1 if none is queued.
  int transmits(const NodeId& subject) const;

 private:
  struct Key {
    int transmits;
    uint64_t newest;  // larger = newer; ordered first among equals
    NodeId subject;
    bool operator<(const Key& o) const {
      if (transmits != o.transmits) return transmits < o.transmits;
      if (newest != o.newest) return newest > o.newest;
      return subject < o.subject;
    }
  };
  std::map<Key, std::vector<uint8_t>> items_;
  std::map<NodeId, Key> bySubject_;
  uint64_t counter_ = 0;
};

}  // namespace qmesh::membership
