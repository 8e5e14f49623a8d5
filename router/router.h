// The router process: listener + sessions, the worker directory fed by the supervisor's
// status (or the static worker list), and the graceful stop. Runs on one io_context,
// single-threaded: no locks anywhere in the router.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "router/net.h"
#include "common/clock.h"
#include "router/proxy/listener.h"
#include "router/router_config.h"
#include "router/router_services.h"
#include "router/start_error.h"
#include "router/mesh/mesh_node.h"
#include "router/model_actions.h"
#include "router/proxy/remote_load.h"
#include "router/routing/mesh_loads.h"
#include "router/routing/on_demand.h"
#include "router/status_client.h"

namespace qmesh::router {

class Router {
 public:
  // `clock`: what the router reads time from (a main passes the steady one); it must
  // outlive `io`, whose pending handlers may still hold sessions.
  Router(net::io_context& io, RouterConfig config, const Clock& clock);
  ~Router();

  // Binds the listen address and starts following the supervisor (or loads the static
  // workers). Nothing is served before this returns without error.
  std::optional<StartError> start();
  // SIGTERM (issue 12): the node drains. The router keeps listening but takes no new request
  // (/readyz 503 "draining", model requests and mesh hops 503 "draining"), its workers are
  // gossiped as draining so other routers send them nothing new, and no stream continues on
  // them; requests in flight finish. When the last one is done it leaves the mesh and stops
  // (shutdown()). At drain_timeout the supervisor stops this node's workers: the router marks
  // them stopped (also in gossip), so the streams still on them continue on other nodes'
  // workers (relayed by this router for its own clients). At drain_timeout + shutdown_grace
  // whatever is left is cut.
  void drain();
  // Stops accepting, leaves the mesh, lets in-flight requests finish for shutdown_grace, then
  // cuts the rest. io.run() returns once everything is closed (and onStopping's signal sets
  // are cancelled).
  void shutdown();
  // A second SIGTERM: cut everything now.
  void shutdownNow();
  // Runs once when shutdown starts: main cancels its signal sets there, or io.run() would
  // never return.
  void setOnStopping(std::function<void()> f) { onStopping_ = std::move(f); }

  uint16_t port() const { return listener_.port(); }
  // SIGHUP: re-read the mesh key file (rotation without downtime).
  void reloadMeshKeys();

 private:
  void onSnapshot(const StatusSnapshot& s);
  void finishShutdown();

  net::io_context& io_;
  std::shared_ptr<RouterServices> services_;
  Listener listener_;
  std::unique_ptr<StatusClient> status_;
  std::unique_ptr<MeshNode> mesh_;
  // Supervised mode: models loaded on demand, unloaded when idle (routing/on_demand.h).
  std::unique_ptr<SupervisorModelActions> modelActions_;
  std::unique_ptr<OnDemandModels> onDemand_;
  // Mesh: models loaded nowhere, loaded on another node that can (routing/mesh_loads.h).
  std::unique_ptr<RemoteLoadRequests> remoteLoads_;
  std::unique_ptr<MeshLoads> meshLoads_;
  net::steady_timer grace_;
  net::steady_timer drainLimit_;
  void drainDeadlinePassed();
  std::function<void()> onStopping_;
  bool draining_ = false;
  bool stopping_ = false;
};

}  // namespace qmesh::router
