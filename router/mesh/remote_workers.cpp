#include "router/mesh/remote_workers.h"

#include <algorithm>

namespace qmesh::router {

std::vector<WorkerInfo> remoteWorkersOf(const membership::Member& m, const NodeMeta& meta) {
  const bool suspect = m.state == membership::MemberState::kSuspect;
  std::vector<WorkerInfo> workers;
  for (const auto& wm : meta.workers) {
    WorkerInfo w;
    w.model = wm.model;
    w.state = suspect ? WorkerState::Unknown : wm.state;
    w.slots = std::max<int64_t>(1, wm.slots);
    w.embeddings = wm.embeddings;
    w.digest = wm.digest;
    w.remote = true;
    w.node = m.name;
    w.peer = m.id;
    w.dataAddress = meta.dataAddress;
    w.inFlight = wm.inFlight;
    w.queued = wm.queued;
    w.health = wm.health;
    if (wm.tokenRateTenths >= 0) w.tokensPerSecond = static_cast<double>(wm.tokenRateTenths) / 10.0;
    w.restarts = wm.restarts;  // -1: not told
    if (wm.loadPercent >= 0) w.loadProgress = static_cast<double>(wm.loadPercent) / 100.0;
    w.draining = wm.draining;
    w.nodeFreeMemoryMiB = meta.freeMemoryMiB;
    w.nodeLoadsInProgress = meta.loadsInProgress;
    workers.push_back(std::move(w));
  }
  return workers;
}

}  // namespace qmesh::router
