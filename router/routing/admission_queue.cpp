#include "router/routing/admission_queue.h"

#include <algorithm>

namespace qmesh::router {

bool AdmissionQueue::push(uint64_t ticket, TimePoint deadline) {
  if (entries_.size() >= depth_) return false;
  entries_.push_back({ticket, deadline});
  return true;
}

std::optional<uint64_t> AdmissionQueue::pop() {
  if (entries_.empty()) return std::nullopt;
  const uint64_t t = entries_.front().ticket;
  entries_.pop_front();
  return t;
}

bool AdmissionQueue::remove(uint64_t ticket) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.ticket == ticket; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

std::vector<uint64_t> AdmissionQueue::expire(TimePoint now) {
  std::vector<uint64_t> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->deadline <= now) {
      out.push_back(it->ticket);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace qmesh::router
