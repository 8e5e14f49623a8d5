#include "supervisor/backoff.h"

#include <algorithm>
#include <cmath>

namespace qmesh {

Millis backoffDelay(const RestartSettings& s, int attempt, Random& random) {
  const double base = static_cast<double>(s.backoff_initial.count()) *
                      std::pow(s.backoff_multiplier, std::max(0, attempt));
  const double capped = std::min(base, static_cast<double>(s.backoff_max.count()));
  const double factor = 1.0 + s.jitter * (2.0 * random.uniform01() - 1.0);
  return Millis(static_cast<int64_t>(std::llround(capped * factor)));
}

int RestartHistory::record(TimePoint now) {
  times_.push_back(now);
  while (!times_.empty() && now - times_.front() > settings_.window) times_.pop_front();
  return static_cast<int>(times_.size());
}

}  // namespace qmesh
