// Models loaded on demand across the mesh (issue 10, part 3): the LoadGate admission uses on
// a mesh node. A model this node has workers of is this node's business (OnDemandModels,
// `local`); a model only other nodes list is loaded on one of them:
//
//   a request finds it routable nowhere ──▶ loadable? some other node lists it unloaded, or
//     starting or loading (remoteLoadSites) ──no──▶ 503 no_ready_worker, as before
//   ──yes, it waits in this router's queue ──▶ ASKED: one load request to the best such node
//     (chooseNodeToLoad: the one loading it already, else the most free budget, the fewest
//     loads in progress), over the authenticated data plane (Actions::askLoad)
//   ASKED ──that node answers "ready"──▶ the waiters get its slots once its gossip says ready
//   ASKED ──it refuses, its load fails, or it cannot be reached──▶ 503 model_load_failed with
//     the reason to every waiter of the model
//
// Routing prefers nodes where the model is loaded: admission only asks its gate when no
// worker of the model is routable anywhere, so a model ready on some node is queued for
// there and never loaded a second time for a request. One load request per model at a time.
// Single-threaded: the router's io_context.
#pragma once

#include <map>
#include <string>

#include "common/clock.h"
#include "router/routing/admission.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

class MeshLoads final : public LoadGate {
 public:
  class Actions {
   public:
    virtual ~Actions() = default;
    // Ask `worker`'s node to load `model`; answered later through loadAnswered, never from
    // inside the call.
    virtual void askLoad(const WorkerPtr& worker, const std::string& model) = 0;
  };

  // `local`: this node's own on-demand models, or null (a static router loads nothing itself).
  MeshLoads(const WorkerDirectory& directory, Admission& admission, const Clock& clock, Actions& actions,
            LoadGate* local);

  // LoadGate (admission.h).
  bool loadable(const std::string& model) override;
  void waiting(const std::string& model) override;
  bool mayGrant(const std::string& model, uint64_t ticket) const override;
  void used(const std::string& model) override;
  void directoryChanged() override;

  // The asked node's answer: `ready`, or why not (its error message, or the connection's).
  void loadAnswered(const std::string& model, const std::string& node, bool ready, const std::string& why);

  // For /api/status and tests: the node a load of `model` was asked of and not answered, or "".
  std::string askedOf(const std::string& model) const;

 private:
  bool hasLocal(const std::string& model) const;

  const WorkerDirectory& dir_;
  Admission& admission_;
  const Clock& clock_;
  Actions& actions_;
  LoadGate* local_;
  std::map<std::string, std::string> asked_;  // model -> node asked to load it, until it answers
};

}  // namespace qmesh::router
