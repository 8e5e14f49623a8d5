// What every part of one router reads and counts: its config, the worker directory and the
// admission over it, the metrics, the Host/Origin policy, what the supervisor last said, and
// the clock all of them read time from (only a main makes a real one). Part of
// RouterServices; only the io_context thread touches it.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "router/console/console_state.h"
#include "router/metrics.h"
#include "router/proxy/origin_guard.h"
#include "router/router_config.h"
#include "router/routing/admission.h"
#include "router/routing/selection_policy.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

inline SelectionParams selectionParams(const RouterConfig& c) {
  SelectionParams p;
  p.prefixAffinity = c.prefix_affinity;
  return p;
}

struct RouterContext {
  RouterContext(RouterConfig cfg, const Clock& clk)
      : config(std::move(cfg)),
        clock(clk),
        admission(std::make_shared<Admission>(directory, random, clock, static_cast<std::size_t>(config.queue_depth),
                                              config.queue_timeout, selectionParams(config))),
        started(clock.now()) {}

  RouterConfig config;
  const Clock& clock;
  WorkerDirectory directory;
  StdRandom random;
  std::shared_ptr<Admission> admission;
  RouterMetrics metrics;
  TimePoint started;
  int64_t startedUnix = 0;
  bool supervisorReachable = false;
  bool directoryLoaded = false;  // false until the first supervisor status (static: at once)
  std::string supervisorError;
  // What a Host or Origin header may name when there are no API keys; the port is the one
  // bound (router.listen may say 0).
  OriginPolicy origins;
  ConsoleState console;  // /console and /api/events (router/console/)
};

}  // namespace qmesh::router
