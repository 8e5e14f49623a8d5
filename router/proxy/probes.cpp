#include "router/proxy/probes.h"

#include <nlohmann/json.hpp>

namespace qmesh::router {

using nlohmann::json;

std::pair<int, std::string> livenessProbe(bool draining) {
  return {200, json{{"status", "ok"}, {"draining", draining}}.dump()};
}

std::pair<int, std::string> readinessProbe(const RouterContext& st, bool draining) {
  const auto notReady = [](const std::string& why) {
    return std::pair<int, std::string>{503, json{{"status", "not_ready"}, {"reason", why}}.dump()};
  };
  if (draining) return notReady("draining");
  if (!st.directoryLoaded) return notReady("no_supervisor_status");
  const TimePoint now = st.clock.now();
  for (const auto& m : st.directory.models())
    if (st.directory.anyRoutable(m, now)) return {200, json{{"status", "ready"}}.dump()};
  // A supervised router loads an unloaded model for the request that asks for it
  // (routing/on_demand.h): a node whose models are all unloaded still takes requests.
  if (st.config.control)
    for (const auto& w : st.directory.all())
      if (!w->info.remote && w->info.state == WorkerState::Unloaded) return {200, json{{"status", "ready"}}.dump()};
  return notReady("no_ready_worker");
}

}  // namespace qmesh::router
