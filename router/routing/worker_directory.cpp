#include "router/routing/worker_directory.h"

#include <nlohmann/json.hpp>

namespace qmesh::router {

namespace {
constexpr std::pair<WorkerState, std::string_view> kStates[] = {
    {WorkerState::Starting, "starting"},     {WorkerState::Loading, "loading"},
    {WorkerState::Ready, "ready"},           {WorkerState::Unhealthy, "unhealthy"},
    {WorkerState::Restarting, "restarting"}, {WorkerState::Failed, "failed"},
    {WorkerState::Stopped, "stopped"},       {WorkerState::Unknown, "unknown"},
    {WorkerState::Unloaded, "unloaded"}};

// Tolerant reads: a field that is absent, null or of another type takes the default, so a
// newer supervisor (or a child without a pid yet) never breaks the router.
// A float outside int64's range (1e300, found by fuzz/status_json) would be undefined
// behaviour to convert; it takes the default like any other unusable value.
int64_t intField(const nlohmann::json& j, const char* key, int64_t dflt) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return dflt;
  if (it->is_number_integer()) return it->get<int64_t>();
  const double d = it->get<double>();
  return d > -9.2e18 && d < 9.2e18 ? static_cast<int64_t>(d) : dflt;  // NaN fails both
}
std::string stringField(const nlohmann::json& j, const char* key, const std::string& dflt) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}

std::string workerId(const WorkerInfo& w) {
  if (w.remote) return w.model + "@" + w.node;
  return w.model + "@" + w.host + ":" + std::to_string(w.port);
}
}  // namespace

WorkerState parseWorkerState(std::string_view text) {
  for (const auto& [s, name] : kStates)
    if (name == text) return s;
  return WorkerState::Unknown;
}

std::string_view toString(WorkerState s) {
  for (const auto& [st, name] : kStates)
    if (st == s) return name;
  return "unknown";
}

Result<StatusSnapshot> parseSupervisorStatus(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return makeError("supervisor /status is not a JSON object");
  StatusSnapshot s;
  s.node = stringField(j, "node", "");
  s.generation = static_cast<uint64_t>(std::max<int64_t>(0, intField(j, "generation", 0)));
  s.memoryBudget = static_cast<uint64_t>(std::max<int64_t>(0, intField(j, "memory_budget", 0)));
  const auto models = j.find("models");
  if (models == j.end() || !models->is_array())
    return makeError("supervisor /status has no \"models\" array");
  for (const auto& m : *models) {
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string())
      return makeError("supervisor /status has a model without a name");
    WorkerInfo w;
    // "model" names the model of a replica (whose child "name" is NAME#2); older supervisors
    // send only "name".
    const auto model = m.find("model");
    w.model = model != m.end() && model->is_string() ? model->get<std::string>() : m["name"].get<std::string>();
    w.state = parseWorkerState(stringField(m, "state", "unknown"));
    const auto port = intField(m, "port", 0);
    w.port = port > 0 && port < 65536 ? static_cast<uint16_t>(port) : 0;
    w.slots = std::max<int64_t>(1, intField(m, "slots", 1));
    w.pid = intField(m, "pid", 0);
    const auto emb = m.find("embeddings");
    w.embeddings = emb != m.end() && emb->is_boolean() && emb->get<bool>();
    w.restarts = intField(m, "restarts", 0);
    w.digest = stringField(m, "digest", "");
    w.onDemand = stringField(m, "load", "always") == "on_demand";
    w.idleUnloadMs = std::max<int64_t>(0, intField(m, "idle_unload_ms", 0));
    w.memory = static_cast<uint64_t>(std::max<int64_t>(0, intField(m, "memory", 0)));
    w.lastExit = stringField(m, "last_exit", "");
    if (const auto p = m.find("load_progress"); p != m.end() && p->is_number()) {
      const double v = p->get<double>();
      w.loadProgress = v >= 0 && v <= 1 ? v : -1;  // NaN fails both
    }
    s.workers.push_back(std::move(w));
  }
  return s;
}

void WorkerDirectory::apply(const StatusSnapshot& snapshot) {
  std::map<std::string, WorkerPtr> old;
  for (auto& w : local_) old[w->id] = w;
  local_.clear();
  for (const auto& info : snapshot.workers) {
    const std::string id = workerId(info);
    WorkerPtr w;
    if (auto it = old.find(id); it != old.end()) {
      w = it->second;
      // A new pid means the supervisor restarted it: the refused connect is stale evidence.
      if (info.pid != w->unreachable_pid) w->unreachable_until = {};
    } else {
      w = std::make_shared<Worker>();
      w->id = id;
    }
    w->info = info;
    w->info.draining = localDraining_;
    if (localStopping_) w->info.state = WorkerState::Stopped;
    local_.push_back(std::move(w));
  }
  node_ = snapshot.node;
  generation_ = snapshot.generation;
  memoryBudget_ = snapshot.memoryBudget;
  rebuild();
}

void WorkerDirectory::applyRemote(const std::string& peerKey, std::vector<WorkerInfo> workers) {
  std::map<std::string, WorkerPtr> old;
  for (auto& w : remote_[peerKey]) old[w->id] = w;
  std::vector<WorkerPtr> now;
  for (auto& info : workers) {
    info.remote = true;
    const std::string id = workerId(info);
    auto it = old.find(id);
    WorkerPtr w = it != old.end() ? it->second : std::make_shared<Worker>();
    w->id = id;
    w->info = std::move(info);
    now.push_back(std::move(w));
  }
  remote_[peerKey] = std::move(now);
  rebuild();
}

void WorkerDirectory::removeRemote(const std::string& peerKey) {
  if (remote_.erase(peerKey)) rebuild();
}

void WorkerDirectory::setLocalDraining() {
  localDraining_ = true;
  for (auto& w : local_) w->info.draining = true;
}

void WorkerDirectory::setLocalStopping() {
  localStopping_ = true;
  for (auto& w : local_) w->info.state = WorkerState::Stopped;
}

void WorkerDirectory::markPeerUnreachable(const std::string& peerKey, TimePoint now, std::chrono::milliseconds hold) {
  auto it = remote_.find(peerKey);
  if (it == remote_.end()) return;
  for (auto& w : it->second) markUnreachable(*w, now, hold);
}

void WorkerDirectory::rebuild() {
  byModel_.clear();
  for (const auto& w : local_) byModel_[w->info.model].push_back(w);
  for (const auto& [peer, list] : remote_)
    for (const auto& w : list) byModel_[w->info.model].push_back(w);
}

void WorkerDirectory::markUnreachable(Worker& w, TimePoint now, std::chrono::milliseconds hold) {
  w.unreachable_until = now + hold;
  w.unreachable_pid = w.info.pid;
}

std::vector<std::string> WorkerDirectory::models() const {
  std::vector<std::string> out;
  for (const auto& [model, list] : byModel_) out.push_back(model);
  return out;
}

const std::vector<WorkerPtr>& WorkerDirectory::workersOf(const std::string& model) const {
  static const std::vector<WorkerPtr> none;
  auto it = byModel_.find(model);
  return it == byModel_.end() ? none : it->second;
}

std::vector<WorkerPtr> WorkerDirectory::all() const {
  std::vector<WorkerPtr> out;
  for (const auto& [model, list] : byModel_) out.insert(out.end(), list.begin(), list.end());
  return out;
}

bool WorkerDirectory::anyRoutable(const std::string& model, TimePoint now) const {
  for (const auto& w : workersOf(model))
    if (w->routable(now)) return true;
  return false;
}

}  // namespace qmesh::router
