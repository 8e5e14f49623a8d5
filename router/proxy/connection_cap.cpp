#include "router/proxy/connection_cap.h"

#include <sys/resource.h>

#include <algorithm>
#include <spdlog/spdlog.h>

namespace qmesh::router {

int64_t connectionCap(int64_t configured, uint64_t fdLimit) {
  if (fdLimit == RLIM_INFINITY || fdLimit >= static_cast<uint64_t>(fdsNeeded(configured))) return configured;
  const int64_t fit = (static_cast<int64_t>(fdLimit) - kFdReserve) / kFdsPerConnection;
  return std::clamp<int64_t>(fit, 1, configured);
}

int64_t applyConnectionCap(int64_t configured) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return configured;
  const auto needed = static_cast<rlim_t>(fdsNeeded(configured));
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? needed : std::min(needed, lim.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  const int64_t cap = connectionCap(configured, lim.rlim_cur);
  if (cap < configured)
    spdlog::warn("router.max_connections {} needs {} descriptors but RLIMIT_NOFILE allows {}: serving at most {} "
                 "connections (raise the limit with `ulimit -n` or LimitNOFILE=)",
                 configured, needed, static_cast<uint64_t>(lim.rlim_cur), cap);
  return cap;
}

}  // namespace qmesh::router
