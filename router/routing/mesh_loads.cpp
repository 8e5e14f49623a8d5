#include "router/routing/mesh_loads.h"

#include "common/logging.h"
#include "router/routing/load_placement.h"

namespace qmesh::router {

MeshLoads::MeshLoads(const WorkerDirectory& directory, Admission& admission, const Clock& clock, Actions& actions,
                     LoadGate* local)
    : dir_(directory), admission_(admission), clock_(clock), actions_(actions), local_(local) {}

bool MeshLoads::hasLocal(const std::string& model) const {
  for (const auto& w : dir_.workersOf(model))
    if (!w->info.remote) return true;
  return false;
}

bool MeshLoads::loadable(const std::string& model) {
  if (hasLocal(model)) return local_ && local_->loadable(model);
  return asked_.count(model) > 0 || !remoteLoadSites(dir_, model, clock_.now()).empty();
}

void MeshLoads::waiting(const std::string& model) {
  if (hasLocal(model)) {
    if (local_) local_->waiting(model);
    return;
  }
  if (asked_.count(model)) return;  // one load request per model at a time
  const auto sites = remoteLoadSites(dir_, model, clock_.now());
  std::vector<LoadCandidate> candidates;
  for (const auto& s : sites) candidates.push_back(s.candidate);
  const auto best = chooseNodeToLoad(candidates);
  if (!best) {  // gone since loadable() said yes (a gossip update in between)
    admission_.failWaiting(model, {503, "no_ready_worker", "model '" + model + "' has no ready worker right now", 2});
    return;
  }
  const RemoteLoadSite& site = sites[*best];
  asked_[model] = site.candidate.node;
  spdlog::info("model {}: loaded nowhere; asking node {} to load it ({}, {} MiB free, {} load(s) in progress; "
               "{} request(s) waiting)",
               model, site.candidate.node, site.candidate.loading ? "already loading it" : "unloaded there",
               site.candidate.freeMemoryMiB == kUnboundedMiB ? std::string("unbounded")
                                                             : std::to_string(site.candidate.freeMemoryMiB),
               site.candidate.loadsInProgress, admission_.queued(model));
  actions_.askLoad(site.worker, model);
}

bool MeshLoads::mayGrant(const std::string& model, uint64_t ticket) const {
  return !local_ || local_->mayGrant(model, ticket);
}

void MeshLoads::used(const std::string& model) {
  if (local_) local_->used(model);
}

void MeshLoads::directoryChanged() {
  if (local_) local_->directoryChanged();
}

void MeshLoads::loadAnswered(const std::string& model, const std::string& node, bool ready, const std::string& why) {
  auto it = asked_.find(model);
  if (it == asked_.end() || it->second != node) return;
  asked_.erase(it);
  if (ready) {
    // Its waiters get slots as soon as this router's directory shows the model ready there:
    // now, or with that node's next gossip (Admission::onDirectoryChanged).
    spdlog::info("model {}: node {} has it loaded", model, node);
    admission_.grantWaiting(model);
    return;
  }
  spdlog::warn("model {}: node {} did not load it: {}", model, node, why);
  admission_.failWaiting(model, {503, "model_load_failed",
                                 "loading model '" + model + "' on node " + node + " failed: " + why, 2});
}

std::string MeshLoads::askedOf(const std::string& model) const {
  auto it = asked_.find(model);
  return it == asked_.end() ? "" : it->second;
}

}  // namespace qmesh::router
