#include "router/router.h"

#include <spdlog/spdlog.h>

#include <ctime>

#include "router/console/mesh_events.h"
#include "router/membership/identity.h"
#include "router/proxy/connection_cap.h"
#include "router/proxy/hop_session.h"
#include "router/proxy/http_session.h"

namespace qmesh::router {

void logEscapedException(const char* what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("{} ended by an unexpected exception: {}", what, ex.what());
  } catch (...) {
    spdlog::error("{} ended by an unexpected exception", what);
  }
}

Router::Router(net::io_context& io, RouterConfig config)
    : io_(io), state_(std::make_shared<RouterState>(std::move(config))), listener_(io, state_), grace_(io) {
  state_->startedUnix = static_cast<int64_t>(std::time(nullptr));
}

Router::~Router() {
  state_->onAllSessionsClosed = nullptr;
  state_->admission->setOnLoadChanged(nullptr);
  state_->mesh = nullptr;
}

std::optional<StartError> Router::start() {
  const RouterConfig& cfg = state_->config;
  if (const error_code ec = listener_.open(cfg.listen)) {
    if (ec == net::error::address_in_use)
      return StartError{4, "router.listen " + cfg.listen.str() + " is already in use: " + ec.message() +
                               " (another router or program listens there; pick another port)"};
    return StartError{2, "router.listen " + cfg.listen.str() + " cannot be opened: " + ec.message()};
  }
  state_->origins = OriginPolicy{cfg.listen.host, port()};
  state_->maxConnections = applyConnectionCap(cfg.max_connections);
  if (cfg.control) {
    status_ = std::make_unique<StatusClient>(
        io_, *cfg.control, [this](const StatusSnapshot& s) { onSnapshot(s); },
        [this](const std::string& err) {
          state_->supervisorReachable = false;
          state_->supervisorError = err;
        });
    status_->start();
  } else {
    StatusSnapshot s;
    s.node = cfg.node_name;
    for (const auto& w : cfg.static_workers)
      s.workers.push_back(WorkerInfo{w.model, w.host, w.port, w.slots, WorkerState::Ready, 0, false, 0});
    state_->directory.apply(s);
    state_->directoryLoaded = true;
  }
  if (cfg.mesh.enabled) {
    auto identity = membership::loadOrCreateIdentity(cfg.mesh.identity_file);
    if (!identity) return StartError{2, "mesh.identity_file: " + identity.error().message};
    mesh_ = std::make_unique<MeshNode>(io_, *state_, std::move(*identity));
    auto serveHop = [state = state_](dataplane::SecureChannel channel, std::string peer) {
      std::make_shared<HopSession>(std::move(channel), std::move(peer), state)->start();
    };
    if (auto err = mesh_->start(serveHop)) return err;
    state_->mesh = mesh_.get();
    state_->admission->setOnLoadChanged([m = mesh_.get()] { m->localChanged(); });
  }
  listener_.start();
  spdlog::info("router listening on http://{} ({} mode)", cfg.listen.host + ":" + std::to_string(port()),
               cfg.control ? "supervised by " + cfg.control->str() : std::string("static"));
  return std::nullopt;
}

void Router::onSnapshot(const StatusSnapshot& s) {
  // One line per worker whose state changed: the operator's view of what routing now does.
  std::map<std::string, WorkerState> before;
  for (const auto& w : state_->directory.all()) before[w->id] = w->info.state;
  state_->directory.apply(s);
  state_->directoryLoaded = true;
  state_->supervisorReachable = true;
  state_->supervisorError.clear();
  for (const auto& w : state_->directory.all()) {
    auto it = before.find(w->id);
    if (it == before.end() || it->second != w->info.state)
    {
      spdlog::info("worker {} is {} (generation {})", w->id, toString(w->info.state), s.generation);
      publishLocalWorker(state_->console, state_->config.node_name, w->info, s.generation);
    }
  }
  state_->admission->onDirectoryChanged();
  if (mesh_) mesh_->localChanged();
}

void Router::reloadMeshKeys() {
  if (!mesh_) {
    spdlog::warn("SIGHUP: the mesh is not enabled on this node; nothing to reload");
    return;
  }
  auto st = mesh_->reloadKeys();
  if (!st) spdlog::error("SIGHUP: mesh keys not changed: {}", st.error().message);
  publishKeysReloaded(state_->console, static_cast<bool>(st), st ? "" : st.error().message);
}

void Router::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("router stopping: {} connection(s) open, {} ms grace", state_->sessions.size(),
               state_->config.shutdown_grace.count());
  listener_.stop();
  if (status_) status_->stop();
  // Leave the mesh first: peers stop sending us new requests while ours drain.
  if (mesh_) mesh_->stop(nullptr);
  state_->draining = true;
  state_->console.events.closeAll();  // /api/events streams end now, not at the grace's end
  state_->meshChannels.clear();  // idle: their peers' sessions end now, not at our exit
  state_->onAllSessionsClosed = [this] {
    grace_.cancel();
    if (mesh_) mesh_->closeDataPlane();
  };
  // Copy: closing may destroy sessions, which erase themselves from the set.
  const std::vector<ClientLink*> sessions(state_->sessions.begin(), state_->sessions.end());
  for (ClientLink* s : sessions) s->closeIfIdle();
  if (state_->sessions.empty()) {
    if (mesh_) mesh_->closeDataPlane();
    return;
  }
  grace_.expires_after(state_->config.shutdown_grace);
  grace_.async_wait([this](error_code ec) {
    if (!ec) finishShutdown();
  });
}

void Router::finishShutdown() {
  spdlog::warn("grace over: cutting {} connection(s)", state_->sessions.size());
  const std::vector<ClientLink*> sessions(state_->sessions.begin(), state_->sessions.end());
  for (ClientLink* s : sessions) s->forceClose();
  if (mesh_) mesh_->closeDataPlane();
}

}  // namespace qmesh::router
