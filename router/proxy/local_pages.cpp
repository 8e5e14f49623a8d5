#include "router/proxy/local_pages.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "router/mesh/mesh_link.h"

namespace qmesh::router {

using nlohmann::json;

// Names in these pages come from the supervisor and from other nodes over gossip: invalid
// UTF-8 becomes U+FFFD rather than a type_error thrown out of the session.
static std::string dumpText(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {

int readyWorkers(const RouterContext& st, const std::string& model, TimePoint now) {
  int n = 0;
  for (const auto& w : st.directory.workersOf(model)) n += w->routable(now) ? 1 : 0;
  return n;
}

// The most useful of its workers' states for a client choosing a model: ready if any is,
// else one on its way (loading, starting, restarting), else unloaded, else the first's.
std::string modelState(const RouterContext& st, const std::string& model) {
  const auto workers = st.directory.workersOf(model);
  for (WorkerState s : {WorkerState::Ready, WorkerState::Loading, WorkerState::Starting, WorkerState::Restarting,
                        WorkerState::Unloaded})
    for (const auto& w : workers)
      if (w->info.state == s) return std::string(toString(s));
  return workers.empty() ? "unknown" : std::string(toString(workers.front()->info.state));
}

// The nodes where `model` is loadable: listed with every worker of it unloaded (its file is
// there and fits that node's budget; a request for it loads it there, issue 10).
json loadableOn(const RouterContext& st, const std::string& model) {
  std::map<std::string, bool> allUnloaded;  // by node
  for (const auto& w : st.directory.workersOf(model)) {
    const std::string node = w->info.remote ? w->info.node : st.config.node_name;
    auto [it, fresh] = allUnloaded.try_emplace(node, true);
    it->second = it->second && w->info.state == WorkerState::Unloaded;
  }
  json nodes = json::array();
  for (const auto& [node, yes] : allUnloaded)
    if (yes) nodes.push_back(node);
  return nodes;
}

}  // namespace

// Always 200 while the router runs: the supervisor health-polls this and must not restart
// the router because a model is loading. Readiness is in the body.
std::string healthJson(const RouterContext& st, bool draining) {
  const TimePoint now = st.clock.now();
  int ready = 0;
  for (const auto& m : st.directory.models()) ready += readyWorkers(st, m, now);
  return dumpText(json{{"status", "ok"}, {"ready_workers", ready}, {"draining", draining}});
}

std::string modelsJson(const RouterContext& st) {
  const TimePoint now = st.clock.now();
  json data = json::array();
  for (const auto& m : st.directory.models()) {
    json nodes = json::array();
    for (const auto& w : st.directory.workersOf(m)) {
      const std::string node = w->info.remote ? w->info.node : st.config.node_name;
      if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) nodes.push_back(node);
    }
    data.push_back({{"id", m},
                    {"object", "model"},
                    {"created", st.startedUnix},
                    {"owned_by", "qmesh"},
                    {"qmesh", {{"node", st.config.node_name},
                               {"nodes", nodes},
                               {"loadable_on", loadableOn(st, m)},
                               {"ready_workers", readyWorkers(st, m, now)},
                               {"state", modelState(st, m)},
                               {"workers", st.directory.workersOf(m).size()}}}});
  }
  return dumpText(json{{"object", "list"}, {"data", data}});
}

std::string apiStatusJson(const RouterContext& st, bool draining) {
  const TimePoint now = st.clock.now();
  json models = json::array();
  for (const auto& m : st.directory.models()) {
    json workers = json::array();
    for (const auto& w : st.directory.workersOf(m)) {
      workers.push_back({{"id", w->id},
                         {"node", w->info.remote ? w->info.node : st.config.node_name},
                         {"remote", w->info.remote},
                         {"url", w->info.remote ? "qmesh://" + w->info.dataAddress
                                                : "http://" + w->info.host + ":" + std::to_string(w->info.port)},
                         {"state", std::string(toString(w->info.state))},
                         {"routable", w->routable(now)},
                         {"draining", w->info.draining},
                         {"digest", w->info.digest},
                         {"slots", w->info.slots},
                         {"outstanding", w->outstanding},
                         {"served", w->served},
                         {"failures", w->failures},
                         {"pid", w->info.pid},
                         {"restarts", w->info.restarts >= 0 ? json(w->info.restarts) : json(nullptr)}});
      // Share of the model loaded while it loads (supervisor/load_progress.h); the console shows it.
      if (w->info.loadProgress >= 0) workers.back()["load_progress"] = w->info.loadProgress;
      // Streams' tokens/s over the last minute: this node's own count, or a remote node's gossip.
      const double rate = w->info.remote ? w->info.tokensPerSecond : st.console.localRates.perSecond(m, now);
      workers.back()["tokens_per_s"] = rate >= 0 ? json(std::round(rate * 10) / 10) : json(nullptr);
    }
    models.push_back({{"name", m}, {"queued", st.admission->queued(m)}, {"workers", workers}});
  }
  json sup = nullptr;
  if (st.config.control)
    sup = {{"address", st.config.control->str()},
           {"reachable", st.supervisorReachable},
           {"generation", st.directory.generation()},
           {"last_error", st.supervisorError}};
  return dumpText(json{{"node", st.config.node_name},
              {"version", QMESH_VERSION},
              {"mode", st.config.control ? "supervised" : "static"},
              {"listen", st.config.listen.str()},
              {"uptime_s", std::chrono::duration<double>(now - st.started).count()},
              {"draining", draining},
              {"in_flight", st.metrics.inFlight()},
              {"requests_total", st.metrics.requests()},
              {"supervisor", sup},
              {"models", models}});
}

std::string apiMeshJson(const RouterContext& st, const MeshLink* mesh, int64_t hopSessions) {
  if (!mesh) return dumpText(json{{"enabled", false}, {"node", st.config.node_name}});
  return dumpText(mesh->statusJson(hopSessions));
}

std::string metricsText(const RouterContext& st, const MeshLink* mesh) {
  std::string out = st.metrics.render(st.directory, *st.admission);
  if (mesh) mesh->renderMetrics(out);
  return out;
}

}  // namespace qmesh::router
