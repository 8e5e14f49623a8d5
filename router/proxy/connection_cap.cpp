#include "router/proxy/connection_cap.h"

#include <sys/resource.h>

#include <algorithm>

#include "common/fd_limit.h"
#include "common/logging.h"

namespace qmesh::router {

int64_t connectionCap(int64_t configured, uint64_t fdLimit) {
  if (fdLimit == RLIM_INFINITY || fdLimit >= static_cast<uint64_t>(fdsNeeded(configured))) return configured;
  const int64_t fit = (static_cast<int64_t>(fdLimit) - kFdReserve) / kFdsPerConnection;
  return std::clamp<int64_t>(fit, 1, configured);
}

int64_t applyConnectionCap(int64_t configured) {
  const auto needed = static_cast<uint64_t>(fdsNeeded(configured));
  // The router's main raised the limit already; a router built in-process (tests) may not have.
  FdLimit lim = currentFdLimit();
  if (!lim.error.empty()) return configured;
  if (lim.after != RLIM_INFINITY && lim.after < needed)
    if (const FdLimit raised = raiseFdLimit(); raised.error.empty()) lim = raised;
  const int64_t cap = connectionCap(configured, lim.after);
  if (cap < configured)
    spdlog::warn("router.max_connections {} needs {} descriptors but RLIMIT_NOFILE allows {}: serving at most {} "
                 "connections (raise the limit with `ulimit -n` or LimitNOFILE=)",
                 configured, needed, lim.after, cap);
  return cap;
}

}  // namespace qmesh::router
