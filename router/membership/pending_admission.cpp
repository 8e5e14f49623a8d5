#include "router/membership/pending_admission.h"

namespace qmesh::membership {
namespace {

net::ip::address canonical(net::ip::address a) {
  namespace ip = net::ip;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

}  // namespace

std::vector<uint64_t> PendingAdmission::admit(uint64_t id, net::ip::address source) {
  source = canonical(source);
  std::vector<uint64_t> evicted;
  if (auto it = bySource_.find(source); it != bySource_.end() && it->second.size() >= limits_.perSource) {
    ++counters_.evictedPerSourceCap;
    evicted.push_back(*it->second.begin());
    release(evicted.back());
  }
  while (!pending_.empty() && pending_.size() >= limits_.total) {
    ++counters_.evictedTotalCap;
    evicted.push_back(pending_.begin()->first);
    release(evicted.back());
  }
  pending_.emplace(id, source);
  bySource_[source].insert(id);
  return evicted;
}

void PendingAdmission::release(uint64_t id) {
  const auto it = pending_.find(id);
  if (it == pending_.end()) return;
  const auto from = bySource_.find(it->second);
  from->second.erase(id);
  if (from->second.empty()) bySource_.erase(from);
  pending_.erase(it);
}

std::size_t PendingAdmission::pendingFrom(net::ip::address source) const {
  const auto it = bySource_.find(canonical(source));
  return it == bySource_.end() ? 0 : it->second.size();
}

}  // namespace qmesh::membership
