#include "router/routing/load_placement.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace qmesh::router {

namespace {

bool startingOrLoading(WorkerState s) { return s == WorkerState::Starting || s == WorkerState::Loading; }

}  // namespace

std::optional<std::size_t> chooseNodeToLoad(std::span<const LoadCandidate> candidates) {
  std::optional<std::size_t> best;
  // Greater is better: loading, more free memory, fewer loads; the name breaks a tie below.
  auto rank = [](const LoadCandidate& c) { return std::make_tuple(c.loading, c.freeMemoryMiB, -c.loadsInProgress); };
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (!best) {
      best = i;
      continue;
    }
    const LoadCandidate &c = candidates[i], &b = candidates[*best];
    if (rank(c) > rank(b) || (rank(c) == rank(b) && c.node < b.node)) best = i;
  }
  return best;
}

std::vector<RemoteLoadSite> remoteLoadSites(const WorkerDirectory& dir, const std::string& model, TimePoint now) {
  struct NodeView {
    WorkerPtr first;
    bool allUnloaded = true, anyOnItsWay = false, held = false;
  };
  std::map<std::string, NodeView> nodes;  // by node name
  for (const auto& w : dir.workersOf(model)) {
    if (!w->info.remote) continue;
    NodeView& v = nodes[w->info.node];
    if (!v.first) v.first = w;
    v.allUnloaded = v.allUnloaded && w->info.state == WorkerState::Unloaded;
    v.anyOnItsWay = v.anyOnItsWay || startingOrLoading(w->info.state);
    // Its router refused us a moment ago, or its node drains (it takes nothing new).
    v.held = v.held || now < w->unreachable_until || w->info.draining;
  }
  std::vector<RemoteLoadSite> sites;
  for (const auto& [node, v] : nodes) {
    if (v.held || !(v.allUnloaded || v.anyOnItsWay)) continue;
    const WorkerInfo& i = v.first->info;
    sites.push_back({LoadCandidate{node, v.anyOnItsWay, i.nodeFreeMemoryMiB, i.nodeLoadsInProgress}, v.first});
  }
  return sites;
}

uint64_t localFreeMemoryMiB(const WorkerDirectory& dir) {
  const uint64_t budget = dir.memoryBudget();
  if (budget == 0) return kUnboundedMiB;
  uint64_t taken = 0;
  for (const auto& w : dir.all()) {
    if (w->info.remote) continue;
    const WorkerState s = w->info.state;
    const bool resident = s == WorkerState::Unloaded ? w->info.pid > 0 : s != WorkerState::Stopped && s != WorkerState::Failed;
    if (resident) taken += w->info.memory;
  }
  return std::min<uint64_t>((budget - std::min(budget, taken)) >> 20, kUnboundedMiB - 1);
}

int localLoadsInProgress(const WorkerDirectory& dir) {
  int n = 0;
  for (const auto& w : dir.all())
    if (!w->info.remote && startingOrLoading(w->info.state)) ++n;
  return n;
}

}  // namespace qmesh::router
