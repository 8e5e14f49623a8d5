#include "router/routing/selection_policy.h"

namespace qmesh::router {

std::optional<Choice> chooseLeastLoaded(const std::vector<Load>& candidates, Random& random) {
  std::optional<std::size_t> best;
  uint64_t ties = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Load& c = candidates[i];
    if (c.slots <= 0 || c.outstanding >= c.slots) continue;
    if (!best) {
      best = i;
      ties = 1;
      continue;
    }
    const Load& b = candidates[*best];
    // Compare outstanding/slots without division: a/b < c/d  <=>  a*d < c*b.
    const int64_t lhs = c.outstanding * b.slots, rhs = b.outstanding * c.slots;
    if (lhs < rhs) {
      best = i;
      ties = 1;
    } else if (lhs == rhs && random.below(++ties) == 0) {
      best = i;  // reservoir sampling: each tied candidate wins with probability 1/ties
    }
  }
  if (!best) return std::nullopt;
  const Load& b = candidates[*best];
  return Choice{*best, "least-loaded " + std::to_string(b.outstanding) + "/" + std::to_string(b.slots)};
}

}  // namespace qmesh::router
