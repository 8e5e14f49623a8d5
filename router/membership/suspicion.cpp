#include "router/membership/suspicion.h"

#include <algorithm>
#include <cmath>

namespace qmesh::membership {

Duration suspicionMinTimeout(double alpha, std::size_t clusterSize, Duration probeInterval) {
  const double n = static_cast<double>(std::max<std::size_t>(clusterSize, 1));
  const double scale = alpha * std::max(1.0, std::log10(n));
  return std::chrono::duration_cast<Duration>(probeInterval * scale);
}

Duration suspicionTimeout(Duration min, Duration max, std::size_t expectedConfirmations,
                          std::size_t confirmations) {
  if (expectedConfirmations == 0 || max <= min) return min;
  const double frac = std::log(static_cast<double>(confirmations) + 1.0) /
                      std::log(static_cast<double>(expectedConfirmations) + 1.0);
  const auto shrink = std::chrono::duration_cast<Duration>((max - min) * frac);
  return std::max(min, max - shrink);
}

std::size_t expectedConfirmations(double alpha, std::size_t clusterSize) {
  const double k = std::max(0.0, alpha - 2.0);
  const std::size_t others = clusterSize > 2 ? clusterSize - 2 : 0;
  return std::min(static_cast<std::size_t>(k), others);
}

Suspicion::Suspicion(TimePoint start, Duration min, Duration max, std::size_t expected,
                     NodeId accuser)
    : start_(start), min_(min), max_(max), expected_(expected) {
  accusers_.insert(accuser);
}

bool Suspicion::confirm(const NodeId& from) {
  // Beyond k confirmations the timeout is already at its minimum; still record them so
  // a repeated accuser is never counted twice.
  return accusers_.insert(from).second;
}

TimePoint Suspicion::deadline() const {
  return start_ + suspicionTimeout(min_, max_, expected_, confirmations());
}

}  // namespace qmesh::membership
