#include "router/console/mesh_events.h"

#include <nlohmann/json.hpp>

#include "router/console/console_state.h"
#include "router/mesh/node_meta.h"

namespace qmesh::router {

using nlohmann::json;

void publishMemberChange(ConsoleState& c, const std::string& name, const std::string& id, const std::string& address,
                         std::string_view state, std::string_view previous, bool isNew) {
  c.events.publish(isNew ? "member_joined" : "member_state", {{"node", name},
                                                              {"node_id", id},
                                                              {"address", address},
                                                              {"state", state},
                                                              {"previous", isNew ? "" : previous}});
}

void publishRemoteWorkers(ConsoleState& c, const std::string& node, const std::vector<WorkerMeta>& workers) {
  const std::string prefix = node + "/";
  std::map<std::string, ConsoleState::RemoteWorkerSeen> now;
  for (const auto& w : workers) now[prefix + w.model] = {std::string(toString(w.state)), w.loadPercent};
  // Gone: known before under this node, absent now.
  for (auto it = c.remoteWorkers.lower_bound(prefix);
       it != c.remoteWorkers.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    if (now.count(it->first)) {
      ++it;
      continue;
    }
    c.events.publish("worker_state", {{"node", node},
                                      {"model", it->first.substr(prefix.size())},
                                      {"state", "gone"},
                                      {"previous", it->second.state},
                                      {"remote", true}});
    it = c.remoteWorkers.erase(it);
  }
  for (const auto& [key, cur] : now) {
    auto& seen = c.remoteWorkers[key];
    if (seen == cur) continue;
    json e = {{"node", node},
              {"model", key.substr(prefix.size())},
              {"state", cur.state},
              {"previous", seen.state},
              {"remote", true}};
    // As for a local worker: the progress bar while it loads, from its node's gossip.
    if (cur.loadPercent >= 0 && (cur.state == "starting" || cur.state == "loading"))
      e["load_progress"] = static_cast<double>(cur.loadPercent) / 100.0;
    c.events.publish("worker_state", std::move(e));
    seen = cur;
  }
}

void publishLocalWorker(ConsoleState& c, const std::string& node, const WorkerInfo& w, uint64_t generation) {
  json e = {{"node", node},
            {"model", w.model},
            {"state", std::string(toString(w.state))},
            {"pid", w.pid},
            {"restarts", w.restarts},
            {"generation", generation},
            {"remote", false}};
  const bool starting = w.state == WorkerState::Starting || w.state == WorkerState::Loading;
  if (starting && w.loadProgress >= 0) e["load_progress"] = w.loadProgress;
  c.events.publish("worker_state", std::move(e));
}

bool localWorkerChanged(const WorkerInfo* before, const WorkerInfo& now) {
  return !before || before->state != now.state || before->loadProgress != now.loadProgress;
}

void publishKeysReloaded(ConsoleState& c, bool ok, const std::string& detail) {
  c.events.publish("keys_reloaded", {{"ok", ok}, {"detail", detail}});
}

void publishSupervisorReach(ConsoleState& c, const std::string& address, bool wasReachable, bool everReached,
                            bool reachable, const std::string& detail) {
  if (!reachable && wasReachable) c.events.publish("supervisor_lost", {{"address", address}, {"error", detail}});
  if (reachable && !wasReachable && everReached) c.events.publish("supervisor_back", {{"address", address}});
}

}  // namespace qmesh::router
