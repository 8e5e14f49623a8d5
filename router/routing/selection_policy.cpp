#include "router/routing/selection_policy.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace qmesh::router {

uint64_t stableHash(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64-bit offset basis
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;  // FNV-1a 64-bit prime
  }
  return h;
}

uint64_t rendezvousWeight(uint64_t key, uint64_t idHash) {
  uint64_t z = key ^ (idHash + 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

namespace {

int64_t busy(const Load& c) { return std::max(c.outstanding, c.remote ? c.reportedBusy : 0); }

std::string loadText(const Load& c) { return std::to_string(busy(c)) + "/" + std::to_string(c.slots); }

std::optional<Choice> byAffinity(const std::vector<Load>& all, const std::vector<std::size_t>& pool, uint64_t key,
                                 double bound) {
  int64_t totalBusy = 0, totalSlots = 0;
  for (std::size_t i : pool) {
    totalBusy += busy(all[i]);
    totalSlots += all[i].slots;
  }
  std::vector<std::size_t> order = pool;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return rendezvousWeight(key, all[a].idHash) > rendezvousWeight(key, all[b].idHash);
  });
  for (std::size_t i : order) {
    const Load& c = all[i];
    // This worker's share of the load after this request, capped at c x its fair share.
    const double capacity = std::ceil(bound * static_cast<double>(totalBusy + 1) * c.slots / totalSlots);
    if (static_cast<double>(busy(c) + 1) <= capacity)
      return Choice{i, "affinity " + loadText(c) + (i == order.front() ? "" : " (spilled)")};
  }
  return std::nullopt;
}

}  // namespace

std::optional<Choice> chooseWorker(const std::vector<Load>& candidates, uint64_t affinityKey, Random& random,
                                   const SelectionParams& params) {
  std::vector<std::size_t> pool, overloaded;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Load& c = candidates[i];
    if (c.slots <= 0 || c.outstanding >= c.slots) continue;
    (c.health < params.overloadedHealth ? overloaded : pool).push_back(i);
  }
  if (pool.empty()) pool = std::move(overloaded);
  if (pool.empty()) return std::nullopt;
  // With one candidate there is nothing to keep a prefix away from; say why it was chosen plainly.
  if (params.prefixAffinity && affinityKey != 0 && pool.size() > 1)
    if (auto c = byAffinity(candidates, pool, affinityKey, params.affinityBound)) return c;

  std::optional<std::size_t> best;
  double bestScore = 0;
  uint64_t ties = 0;
  for (std::size_t i : pool) {
    const Load& c = candidates[i];
    const double score = static_cast<double>(busy(c)) / c.slots + (c.remote ? params.remotePenalty : 0.0) +
                         (100 - std::clamp(c.health, 0, 100)) * 0.001;
    if (!best || score < bestScore - 1e-9) {
      best = i;
      bestScore = score;
      ties = 1;
    } else if (std::abs(score - bestScore) <= 1e-9 && random.below(++ties) == 0) {
      best = i;  // reservoir sampling: each tied candidate wins with probability 1/ties
    }
  }
  return Choice{*best, "least-loaded " + loadText(candidates[*best])};
}

}  // namespace qmesh::router
