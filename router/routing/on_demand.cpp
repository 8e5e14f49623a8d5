#include "router/routing/on_demand.h"

#include <algorithm>
#include <vector>

#include "common/duration.h"
#include "common/logging.h"

namespace qmesh::router {

namespace {

template <typename F>
bool anyLocal(const WorkerDirectory& dir, const std::string& model, F&& f) {
  for (const auto& w : dir.workersOf(model))
    if (!w->info.remote && f(*w)) return true;
  return false;
}

template <typename F>
bool allLocal(const WorkerDirectory& dir, const std::string& model, F&& f) {
  bool any = false;
  for (const auto& w : dir.workersOf(model)) {
    if (w->info.remote) continue;
    if (!f(*w)) return false;
    any = true;
  }
  return any;
}

}  // namespace

OnDemandModels::OnDemandModels(const WorkerDirectory& directory, Admission& admission, const Clock& clock,
                               Actions& actions)
    : dir_(directory), admission_(admission), clock_(clock), actions_(actions) {}

bool OnDemandModels::allUnloaded(const std::string& model) const {
  return allLocal(dir_, model, [](const Worker& w) { return w.info.state == WorkerState::Unloaded; });
}

// Its memory is taken: a process runs (an unloaded one until it has exited), or is asked for.
bool OnDemandModels::resident(const std::string& model) const {
  if (auto it = models_.find(model); it != models_.end() && it->second.phase == Phase::LoadAsked) return true;
  return anyLocal(dir_, model, [](const Worker& w) {
    switch (w.info.state) {
      case WorkerState::Unloaded: return w.info.pid > 0;
      case WorkerState::Stopped:
      case WorkerState::Failed: return false;
      default: return true;
    }
  });
}

bool OnDemandModels::onItsWay(const std::string& model) const {
  return anyLocal(dir_, model, [](const Worker& w) {
    return w.info.state == WorkerState::Starting || w.info.state == WorkerState::Loading ||
           w.info.state == WorkerState::Ready;
  });
}

bool OnDemandModels::ready(const std::string& model) const {
  const TimePoint now = clock_.now();
  return anyLocal(dir_, model, [now](const Worker& w) { return w.routable(now); });
}

int64_t OnDemandModels::inFlight(const std::string& model) const {
  int64_t n = 0;
  for (const auto& w : dir_.workersOf(model))
    if (!w->info.remote) n += w->outstanding;
  return n;
}

// Nothing in flight, nothing queued; a closed model's newcomers wait for its next load and
// do not count.
bool OnDemandModels::idle(const std::string& model) const {
  if (inFlight(model) > 0) return false;
  const auto front = admission_.frontTicket(model);
  if (!front) return true;
  auto it = models_.find(model);
  return it != models_.end() && it->second.closedAfter && *front > *it->second.closedAfter;
}

uint64_t OnDemandModels::memory(const std::string& model) const {
  uint64_t n = 0;
  for (const auto& w : dir_.workersOf(model))
    if (!w->info.remote) n += w->info.memory;
  return n;
}

uint64_t OnDemandModels::residentMemory() const {
  uint64_t n = 0;
  for (const auto& [model, e] : models_)
    if (resident(model)) n += memory(model);
  return n;
}

bool OnDemandModels::loadable(const std::string& model) {
  if (auto it = models_.find(model); it != models_.end() && it->second.phase != Phase::None) return true;
  if (allUnloaded(model)) return true;
  // An on-demand model that someone else is loading (qmesh-supervisor load): wait for it too.
  bool onDemand = false;
  const bool coming = allLocal(dir_, model, [&onDemand](const Worker& w) {
    onDemand = onDemand || w.info.onDemand;
    return w.info.state == WorkerState::Unloaded || w.info.state == WorkerState::Starting ||
           w.info.state == WorkerState::Loading;
  });
  return coming && onDemand;
}

void OnDemandModels::waiting(const std::string& model) {
  Entry& e = models_[model];
  if (e.phase == Phase::None && allUnloaded(model)) {
    e.phase = Phase::Wanted;
    wanted_.push_back(model);
  }
  plan();
}

bool OnDemandModels::mayGrant(const std::string& model, uint64_t ticket) const {
  auto it = models_.find(model);
  if (it == models_.end()) return true;
  if (it->second.phase == Phase::Evicting) return false;
  return !it->second.closedAfter || ticket <= *it->second.closedAfter;
}

void OnDemandModels::used(const std::string& model) {
  models_[model].lastUsed = clock_.now();
  if (!wanted_.empty()) plan();  // a busy model may just have become idle: room for the next
}

void OnDemandModels::plan() {
  if (planning_) {  // reached again from inside (a grant below): once more when done
    replan_ = true;
    return;
  }
  planning_ = true;
  do {
    replan_ = false;
    // Nobody waits any more (they timed out or hung up): not worth a load.
    std::erase_if(wanted_, [this](const std::string& m) {
      if (admission_.queued(m) > 0) return false;
      models_[m].phase = Phase::None;
      return true;
    });
    while (!wanted_.empty() && makeRoomFor(wanted_.front())) {
      const std::string m = wanted_.front();
      wanted_.pop_front();
      startLoad(m);
    }
    if (wanted_.empty())
      for (auto& [m, e] : models_)
        if (e.closedAfter) reopen(m);
  } while (replan_);
  planning_ = false;
}

// true: `wanted` fits now. Otherwise starts what frees room (evictions, closings) and
// returns false; plan() runs again as they finish.
bool OnDemandModels::makeRoomFor(const std::string& wanted) {
  const uint64_t budget = dir_.memoryBudget();
  if (budget == 0) return true;
  const uint64_t need = memory(wanted), taken = residentMemory();
  uint64_t freeing = 0;
  std::vector<std::string> candidates;  // resident, ready, with no action under way
  for (const auto& [m, e] : models_) {
    if (m == wanted) continue;
    if (e.phase == Phase::Evicting && resident(m)) freeing += memory(m);
    else if (e.phase == Phase::None && ready(m)) candidates.push_back(m);
  }
  if (taken + need <= budget) return true;
  auto fits = [&](uint64_t extra) { return taken - std::min(taken, freeing + extra) + need <= budget; };
  if (fits(0)) return false;  // it fits once the evictions under way are done
  std::sort(candidates.begin(), candidates.end(),
            [this](const auto& a, const auto& b) { return models_[a].lastUsed < models_[b].lastUsed; });
  for (const auto& c : candidates) {
    if (fits(0)) break;
    if (!idle(c)) continue;
    evict(c, "to make room for '" + wanted + "' (least recently used idle model)");
    freeing += memory(c);
  }
  if (fits(0)) return false;
  // Idle ones are not enough: busy ones give way, the longest resident first. The requests
  // queued for them are served; newcomers wait for their next load.
  std::sort(candidates.begin(), candidates.end(),
            [this](const auto& a, const auto& b) { return models_[a].readySince < models_[b].readySince; });
  uint64_t closing = 0;
  for (const auto& c : candidates) {
    if (fits(closing)) break;
    Entry& e = models_[c];
    if (e.phase != Phase::None) continue;  // evicted just above
    if (!e.closedAfter) {
      e.closedAfter = admission_.lastTicket();
      spdlog::info("model {} gives way to {} under node.memory_budget: {} in flight and {} queued are served, "
                   "newer requests wait for its next load",
                   c, wanted, inFlight(c), admission_.queued(c));
    }
    closing += memory(c);
  }
  return false;
}

void OnDemandModels::startLoad(const std::string& model) {
  Entry& e = models_[model];
  e.phase = Phase::LoadAsked;
  e.acked = false;
  spdlog::info("model {}: loading on demand ({} request(s) waiting)", model, admission_.queued(model));
  actions_.load(model);
}

void OnDemandModels::evict(const std::string& model, const std::string& why) {
  Entry& e = models_[model];
  e.phase = Phase::Evicting;  // from now on no slot of it is handed out
  e.closedAfter.reset();
  spdlog::info("model {}: unloading {}", model, why);
  actions_.unload(model);
}

void OnDemandModels::reopen(const std::string& model) {
  models_[model].closedAfter.reset();
  admission_.grantWaiting(model);
}

void OnDemandModels::fail(const std::string& model, const std::string& why) {
  models_[model].phase = Phase::None;
  spdlog::warn("model {}: loading on demand failed: {}", model, why);
  admission_.failWaiting(model, {503, "model_load_failed", "loading model '" + model + "' failed: " + why, 2});
}

void OnDemandModels::judgeLoad(const std::string& model) {
  Entry& e = models_[model];
  if (ready(model)) {
    e.phase = Phase::None;
    return;
  }
  if (!e.acked || dir_.generation() < e.ackGeneration || onItsWay(model)) return;
  std::string why = "no worker is on its way";
  for (const auto& w : dir_.workersOf(model)) {
    if (w->info.remote) continue;
    why = "its worker is " + std::string(toString(w->info.state)) +
          (w->info.lastExit.empty() ? "" : " (" + w->info.lastExit + ")");
    break;
  }
  fail(model, why);
}

void OnDemandModels::loadAnswered(const std::string& model, bool accepted, uint64_t generation,
                                  const std::string& message) {
  Entry& e = models_[model];
  if (e.phase != Phase::LoadAsked) return;
  e.acked = true;
  e.ackGeneration = accepted ? generation : dir_.generation();
  if (accepted || onItsWay(model)) return judgeLoad(model);  // refused: someone loaded it first?
  fail(model, "the supervisor refused: " + message);
  plan();  // the room it held is free again
}

void OnDemandModels::unloadAnswered(const std::string& model, bool accepted, const std::string& message) {
  Entry& e = models_[model];
  if (accepted || e.phase != Phase::Evicting) return;
  spdlog::warn("model {}: the supervisor refused to unload it: {}", model, message);
  e.phase = Phase::None;
  admission_.grantWaiting(model);
}

void OnDemandModels::directoryChanged() {
  const TimePoint now = clock_.now();
  for (const auto& m : dir_.models())
    if (anyLocal(dir_, m, [](const Worker&) { return true; })) models_.try_emplace(m);
  for (auto& [m, e] : models_) {
    const bool r = ready(m);
    if (r && !e.wasReady) e.readySince = e.lastUsed = now;  // the idle clock starts when it is ready
    e.wasReady = r;
    if (e.phase == Phase::LoadAsked) judgeLoad(m);
    else if (e.phase == Phase::Evicting && !resident(m)) {
      e.phase = Phase::None;
      spdlog::info("model {}: unloaded, its memory is free", m);
    }
  }
  plan();
}

void OnDemandModels::tick() {
  const TimePoint now = clock_.now();
  for (auto& [m, e] : models_) {
    if (e.phase != Phase::None || e.closedAfter || !ready(m) || !idle(m)) continue;
    std::chrono::milliseconds limit{0};
    for (const auto& w : dir_.workersOf(m))
      if (!w->info.remote) limit = std::max(limit, std::chrono::milliseconds(w->info.idleUnloadMs));
    if (limit.count() > 0 && now - e.lastUsed >= limit) evict(m, "after " + formatDuration(limit) + " idle (idle_unload)");
  }
}

std::string OnDemandModels::phaseOf(const std::string& model) const {
  auto it = models_.find(model);
  if (it == models_.end()) return "";
  switch (it->second.phase) {
    case Phase::Wanted: return "wanted";
    case Phase::LoadAsked: return "load_asked";
    case Phase::Evicting: return "evicting";
    case Phase::None: break;
  }
  return it->second.closedAfter ? "closed" : "";
}

}  // namespace qmesh::router
