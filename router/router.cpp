#include "router/router.h"

#include <ctime>

#include "common/logging.h"
#include "router/console/mesh_events.h"
#include "router/membership/identity.h"
#include "router/proxy/connection_cap.h"
#include "router/proxy/hop_session.h"
#include "router/proxy/http_session.h"

namespace qmesh::router {

Router::Router(net::io_context& io, RouterConfig config, const Clock& clock)
    : io_(io), services_(std::make_shared<RouterServices>(std::move(config), clock)), listener_(io, services_),
      grace_(io),
      drainLimit_(io) {
  services_->context.startedUnix = static_cast<int64_t>(std::time(nullptr));
}

Router::~Router() {
  services_->sessions.forgetOnAllClosed();
  services_->context.admission->setOnLoadChanged(nullptr);
  services_->context.admission->setLoadGate(nullptr);
  services_->mesh = nullptr;
}

std::optional<StartError> Router::start() {
  RouterContext& ctx = services_->context;
  const RouterConfig& cfg = ctx.config;
  if (const error_code ec = listener_.open(cfg.listen)) {
    if (ec == net::error::address_in_use)
      return StartError{4, "router.listen " + cfg.listen.str() + " is already in use: " + ec.message() +
                               " (another router or program listens there; pick another port)"};
    return StartError{2, "router.listen " + cfg.listen.str() + " cannot be opened: " + ec.message()};
  }
  ctx.origins = OriginPolicy{cfg.listen.host, port()};
  services_->sessions.setMaxConnections(applyConnectionCap(cfg.max_connections));
  if (cfg.control) {
    status_ = std::make_unique<StatusClient>(
        io_, *cfg.control, [this](const StatusSnapshot& s) { onSnapshot(s); },
        [&ctx](const std::string& err) {
          publishSupervisorReach(ctx.console, ctx.config.control->str(), ctx.supervisorReachable, ctx.directoryLoaded,
                                 false, err);
          ctx.supervisorReachable = false;
          ctx.supervisorError = err;
        });
    status_->start();
    modelActions_ = std::make_unique<SupervisorModelActions>(io_, *cfg.control, cfg.control_token_file);
    onDemand_ = std::make_unique<OnDemandModels>(ctx.directory, *ctx.admission, ctx.clock, *modelActions_);
    ctx.admission->setLoadGate(onDemand_.get());
    modelActions_->start(*onDemand_);
  } else {
    StatusSnapshot s;
    s.node = cfg.node_name;
    for (const auto& w : cfg.static_workers)
      s.workers.push_back(WorkerInfo{w.model, w.host, w.port, w.slots, WorkerState::Ready, 0, false, 0, w.digest});
    ctx.directory.apply(s);
    ctx.directoryLoaded = true;
  }
  if (cfg.mesh.enabled) {
    auto identity = membership::loadOrCreateIdentity(cfg.mesh.identity_file);
    if (!identity) return StartError{2, "mesh.identity_file: " + identity.error().message};
    mesh_ = std::make_unique<MeshNode>(
        io_, MeshDeps{cfg, ctx.directory, *ctx.admission, services_->meshChannels, ctx.clock, ctx.console}, std::move(*identity));
    auto serveHop = [services = services_](dataplane::SecureChannel channel, std::string peer) {
      std::make_shared<HopSession>(std::move(channel), std::move(peer), services)->start();
    };
    if (auto err = mesh_->start(serveHop)) return err;
    services_->mesh = mesh_.get();
    remoteLoads_ = std::make_unique<RemoteLoadRequests>(io_, services_);
    meshLoads_ = std::make_unique<MeshLoads>(ctx.directory, *ctx.admission, ctx.clock, *remoteLoads_, onDemand_.get());
    ctx.admission->setLoadGate(meshLoads_.get());
    remoteLoads_->start(*meshLoads_);
    ctx.admission->setOnLoadChanged([m = mesh_.get()] { m->localChanged(); });
  }
  listener_.start();
  spdlog::info("router listening on http://{} ({} mode)", cfg.listen.host + ":" + std::to_string(port()),
               cfg.control ? "supervised by " + cfg.control->str() : std::string("static"));
  return std::nullopt;
}

void Router::onSnapshot(const StatusSnapshot& s) {
  // One line per worker whose state changed: the operator's view of what routing now does.
  RouterContext& ctx = services_->context;
  std::map<std::string, WorkerInfo> before;
  for (const auto& w : ctx.directory.all()) before[w->id] = w->info;
  publishSupervisorReach(ctx.console, ctx.config.control->str(), ctx.supervisorReachable, ctx.directoryLoaded, true, "");
  ctx.directory.apply(s);
  ctx.directoryLoaded = true;
  ctx.supervisorReachable = true;
  ctx.supervisorError.clear();
  for (const auto& w : ctx.directory.all()) {
    const auto it = before.find(w->id);
    const WorkerInfo* was = it == before.end() ? nullptr : &it->second;
    if (!was || was->state != w->info.state)
      spdlog::info("worker {} is {} (generation {})", w->id, toString(w->info.state), s.generation);
    if (localWorkerChanged(was, w->info)) publishLocalWorker(ctx.console, ctx.config.node_name, w->info, s.generation);
  }
  ctx.admission->onDirectoryChanged();
  if (mesh_) mesh_->localChanged();
}

void Router::reloadMeshKeys() {
  if (!mesh_) {
    spdlog::warn("SIGHUP: the mesh is not enabled on this node; nothing to reload");
    return;
  }
  auto st = mesh_->reloadKeys();
  if (!st) spdlog::error("SIGHUP: mesh keys not changed: {}", st.error().message);
  publishKeysReloaded(services_->context.console, static_cast<bool>(st), st ? "" : st.error().message);
}

void Router::drain() {
  if (draining_ || stopping_) return;
  draining_ = true;
  RouterContext& ctx = services_->context;
  SessionRegistry& sessions = services_->sessions;
  spdlog::info("router draining: {} connection(s) open; no new requests; streams in flight have {} ms here, then "
               "{} ms more elsewhere",
               sessions.size(), ctx.config.drain_timeout.count(), ctx.config.shutdown_grace.count());
  ctx.directory.setLocalDraining();  // no new request nor continuation on our own workers
  ctx.admission->onDirectoryChanged();
  if (mesh_) mesh_->localChanged();  // gossip: other routers stop choosing them at once
  ctx.console.events.closeAll();     // /api/events streams would hold the drain open
  services_->localConnections.clear();
  // The last request in flight to end stops the router. Posted: this runs inside the
  // destructor of a session's membership, and shutdown() replaces the callback.
  sessions.drain([this] { net::post(io_, [this] { shutdown(); }); });
  if (sessions.empty()) net::post(io_, [this] { shutdown(); });
  drainLimit_.expires_after(ctx.config.drain_timeout);
  drainLimit_.async_wait([this](error_code ec) {
    if (ec || stopping_) return;
    drainDeadlinePassed();
  });
}

// The supervisor stops the workers now. What is still on them moves to another node's
// worker (relayed by us for our own clients) and has shutdown_grace to finish there.
void Router::drainDeadlinePassed() {
  RouterContext& ctx = services_->context;
  spdlog::warn("drain: node.drain_timeout is over: {} connection(s) still open; streams on this node's workers "
               "continue elsewhere, for at most {} ms",
               services_->sessions.size(), ctx.config.shutdown_grace.count());
  ctx.directory.setLocalStopping();
  ctx.admission->onDirectoryChanged();
  if (mesh_) mesh_->localChanged();  // a router relaying one of our streams moves it too
  drainLimit_.expires_after(ctx.config.shutdown_grace);
  drainLimit_.async_wait([this](error_code ec) {
    if (ec || stopping_) return;
    spdlog::warn("drain: the grace after node.drain_timeout is over: cutting {} connection(s)",
                 services_->sessions.size());
    shutdownNow();
  });
}

void Router::shutdownNow() {
  shutdown();
  finishShutdown();
}

void Router::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  drainLimit_.cancel();
  if (auto f = std::move(onStopping_)) f();
  SessionRegistry& sessions = services_->sessions;
  spdlog::info("router stopping: {} connection(s) open, {} ms grace", sessions.size(),
               services_->context.config.shutdown_grace.count());
  listener_.stop();
  if (status_) status_->stop();
  if (modelActions_) modelActions_->stop();
  if (remoteLoads_) remoteLoads_->stop();
  // Leave the mesh first: peers stop sending us new requests while ours drain.
  if (mesh_) mesh_->stop(nullptr);
  services_->context.console.events.closeAll();  // /api/events streams end now, not at the grace's end
  services_->meshChannels.clear();  // idle: their peers' sessions end now, not at our exit
  services_->localConnections.clear();  // idle keep-alive connections hold llama-server threads
  sessions.drain([this] {
    grace_.cancel();
    if (mesh_) mesh_->closeDataPlane();
  });
  if (sessions.empty()) {
    if (mesh_) mesh_->closeDataPlane();
    return;
  }
  grace_.expires_after(services_->context.config.shutdown_grace);
  grace_.async_wait([this](error_code ec) {
    if (!ec) finishShutdown();
  });
}

void Router::finishShutdown() {
  spdlog::warn("grace over: cutting {} connection(s)", services_->sessions.size());
  services_->sessions.forceCloseAll();
  if (mesh_) mesh_->closeDataPlane();
}

}  // namespace qmesh::router
