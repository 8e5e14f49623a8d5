#include "router/membership/broadcast_queue.h"

#include <cmath>

namespace qmesh::membership {

int retransmitLimit(int lambda, std::size_t clusterSize) {
  const double n = static_cast<double>(clusterSize) + 1.0;
  return lambda * static_cast<int>(std::ceil(std::log10(n)));
}

void BroadcastQueue::enqueue(const NodeId& subject, std::vector<uint8_t> framed) {
  auto old = bySubject_.find(subject);
  if (old != bySubject_.end()) {
    items_.erase(old->second);
    bySubject_.erase(old);
  }
  Key key{0, ++counter_, subject};
  items_.emplace(key, std::move(framed));
  bySubject_.emplace(subject, key);
}

std::size_t BroadcastQueue::fill(std::vector<uint8_t>& out, std::size_t budget, int limit) {
  std::size_t used = 0;
  std::size_t appended = 0;
  std::size_t skipped = 0;
  std::vector<std::pair<Key, std::vector<uint8_t>>> resend;
  // The smallest claims (suspect, dead) are 71 bytes framed; the skip cap bounds the walk
  // when the packet is nearly full and the queue is long (a mass join).
  for (auto it = items_.begin(); it != items_.end() && budget - used >= 71 && skipped < 16;) {
    if (it->second.size() > budget - used) {
      ++it;  // a smaller claim further on may still fit
      ++skipped;
      continue;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
    used += it->second.size();
    ++appended;
    Key key = it->first;
    ++key.transmits;
    auto bytes = std::move(it->second);
    it = items_.erase(it);
    if (key.transmits < limit) {
      resend.emplace_back(key, std::move(bytes));
      bySubject_[key.subject] = key;
    } else {
      bySubject_.erase(key.subject);
    }
  }
  // Re-inserted after the walk so that one packet never carries the same claim twice.
  for (auto& [key, bytes] : resend) items_.emplace(key, std::move(bytes));
  return appended;
}

int BroadcastQueue::transmits(const NodeId& subject) const {
  auto it = bySubject_.find(subject);
  return it == bySubject_.end() ? -1 : it->second.transmits;
}

}  // namespace qmesh::membership
