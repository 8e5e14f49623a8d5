#include "supervisor/node_supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <sstream>

#include "common/duration.h"
#include "common/logging.h"
#include "common/model_memory.h"
#include "supervisor/download_progress.h"
#include "supervisor/llama_args.h"
#include "supervisor/ports.h"

namespace qmesh {

namespace {

// The loop reacts to deadlines (grace periods, backoff, poll intervals) within one tick;
// 50 ms keeps restart latency low at a negligible CPU cost.
constexpr Millis kTick{50};

constexpr ChildState kAllStates[] = {ChildState::Starting,   ChildState::Loading,
                                     ChildState::Ready,      ChildState::Unhealthy,
                                     ChildState::Restarting, ChildState::Failed,
                                     ChildState::Stopped,    ChildState::Unloaded};

}  // namespace

std::vector<std::string> routerArgv(const NodeBinaries& binaries, const NodeConfig& config) {
  std::vector<std::string> argv = {binaries.router.string(), "--config", config.file.string()};
  return argv;
}

NodeSupervisor::NodeSupervisor(boost::asio::io_context& io, NodeConfig config,
                               NodeBinaries binaries, std::map<std::string, GgufMetadata> models)
    : io_(io),
      config_(std::move(config)),
      binaries_(std::move(binaries)),
      models_(std::move(models)),
      startedAt_(clock_.now()),
      tickTimer_(io),
      sigchld_(io, SIGCHLD) {
  prober_ = std::make_unique<CurlHealthProber>(
      [&io](std::function<void()> f) { boost::asio::post(io, std::move(f)); });
  for (const auto& m : config_.models) {
    for (int64_t r = 0; r < m.replicas; ++r)
      addChild("model", replicaName(m.name, r), &m, [this, &m]() -> Result<ChildCommand> {
        uint16_t port = m.port;
        if (port == 0) {
          auto free = pickFreeLoopbackPort();
          if (!free) return free.error();
          port = *free;
        }
        return ChildCommand{buildLlamaServerArgs(binaries_.llama_server, m, port), port, "127.0.0.1", {}};
      });
  }
  if (!binaries_.router.empty()) {
    addChild("router", "router", nullptr, [this]() -> Result<ChildCommand> {
      // A router bound to one address answers only there; one bound to every interface
      // answers on loopback too.
      const auto& listen = config_.router.listen;
      const std::string host = isWildcardHost(listen.host) ? "127.0.0.1" : listen.host;
      return ChildCommand{routerArgv(binaries_, config_), listen.port, host, binaries_.router_env};
    });
  }
}

NodeSupervisor::~NodeSupervisor() = default;

void NodeSupervisor::addChild(const std::string& kind, const std::string& name,
                              const ModelConfig* model, ProcessLauncher::CommandFactory factory) {
  Child c;
  c.kind = kind;
  c.model = model;
  c.launcher = std::make_unique<ProcessLauncher>(io_, name, std::move(factory));
  // Each percent of a model's load answers the long polls: the router's console shows it.
  if (model) c.launcher->onLoadProgress([this] { changed(); });
  c.supervisor = std::make_unique<ChildSupervisor>(name, config_.supervisor, clock_, random_,
                                                   *c.launcher, *prober_, [this] { changed(); });
  children_.push_back(std::move(c));
}

void NodeSupervisor::changed() {
  ++generation_;
  if (onChange_) onChange_();
}

void NodeSupervisor::armSigchld() {
  // Re-armed before reaping, so a SIGCHLD arriving while we reap is not lost.
  sigchld_.async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;
    armSigchld();
    tick();
  });
}

void NodeSupervisor::start() {
  armSigchld();
  for (auto& c : children_) {
    if (c.model && c.model->on_demand) c.supervisor->markUnloaded();
    else c.supervisor->start();
  }
  std::vector<std::pair<std::string, std::filesystem::path>> files;
  for (const auto& m : config_.models) files.emplace_back(m.name, m.gguf);
  digests_.start(std::move(files));
  scheduleTick();
}

void NodeSupervisor::scheduleTick() {
  tickTimer_.expires_after(kTick);
  tickTimer_.async_wait([this](boost::system::error_code ec) {
    if (ec || finished_) return;
    tick();
    if (!finished_) scheduleTick();
  });
}

void NodeSupervisor::tick() {
  if (finished_) return;
  for (auto& c : children_) c.supervisor->tick();
  if (keyReloadPending_) deliverPendingKeyReload();
  if (drain_ && !stopping_) {
    const Child* r = router();
    if (drainStopsWorkers(*drain_, clock_.now(), !r || r->supervisor->finished())) {
      spdlog::info("drain: {}; stopping the workers", !r || r->supervisor->finished()
                                                          ? "the router is done"
                                                          : "node.drain_timeout is over");
      stop(std::move(drained_));
    }
  }
  if (stopping_) {
    bool all = true;
    for (auto& c : children_) all = all && c.supervisor->finished();
    if (all && stopped_) {
      finished_ = true;
      tickTimer_.cancel();
      sigchld_.cancel();
      boost::asio::post(io_, std::exchange(stopped_, nullptr));
    }
  }
}

void NodeSupervisor::stop(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  stopped_ = std::move(done);
  spdlog::info("stopping {} children (grace {})", children_.size(),
               formatDuration(config_.supervisor.stop_grace));
  for (auto& c : children_) c.supervisor->stop();
  tick();
}

void NodeSupervisor::drain(std::function<void()> done) {
  if (stopping_ || drain_) return;
  Child* r = router();
  if (!r || r->supervisor->snapshot().pid <= 0) return stop(std::move(done));  // nothing relays
  drain_ = planDrain(clock_.now(), config_.node.drain_timeout, config_.supervisor.stop_grace);
  drained_ = std::move(done);
  spdlog::info("draining: the router takes no new request; streams in flight have {} (node.drain_timeout)",
               formatDuration(config_.node.drain_timeout));
  r->supervisor->stop(drain_->routerGrace);
  changed();
}

const LogTail* NodeSupervisor::logTail(const std::string& child) const {
  for (const auto& c : children_)
    if (c.supervisor->name() == child) return &c.launcher->tail();
  return nullptr;
}

bool NodeSupervisor::restart(const std::string& child) {
  for (auto& c : children_) {
    if (c.supervisor->name() == child) {
      c.supervisor->reset();
      return true;
    }
  }
  return false;
}

// A model's replicas load and unload together: each is a process of the same size.
NodeSupervisor::ModelAction NodeSupervisor::load(const std::string& model) {
  std::vector<Child*> targets;
  uint64_t loaded = 0;
  for (auto& c : children_) {
    if (!c.model) continue;
    if (c.model->name == model) targets.push_back(&c);
    else if (c.supervisor->state() != ChildState::Unloaded && c.supervisor->state() != ChildState::Stopped &&
             c.supervisor->state() != ChildState::Failed)
      loaded += modelMemory(*c.model);
  }
  if (targets.empty()) return {404, "no model named '" + model + "'"};
  for (Child* t : targets)
    if (t->supervisor->state() != ChildState::Unloaded)
      return {409, "'" + t->supervisor->name() + "' is not unloaded (it is " + toString(t->supervisor->state()) + ")"};
  const MemoryBudget& b = config_.node.memory_budget;
  if (b.set()) {
    const uint64_t budget = b.resolve(physicalMemoryBytes()), need = modelMemory(*targets.front()->model) * targets.size();
    if (loaded + need > budget)
      return {409, "'" + model + "' needs about " + formatBytes(need) + " but the loaded models take " +
                       formatBytes(loaded) + " of node.memory_budget (" + formatBytes(budget) + "): unload one first"};
  }
  for (Child* t : targets) t->supervisor->load();
  return {202, "loading '" + model + "'"};
}

NodeSupervisor::ModelAction NodeSupervisor::unload(const std::string& model) {
  bool known = false, any = false;
  for (auto& c : children_) {
    if (!c.model || c.model->name != model) continue;
    known = true;
    any = c.supervisor->unload() || any;
  }
  if (!known) return {404, "no model named '" + model + "'"};
  if (!any) return {409, "'" + model + "' is already unloaded, or the node is stopping"};
  return {202, "unloading '" + model + "'"};
}

uint64_t NodeSupervisor::modelMemory(const ModelConfig& m) const {
  auto it = models_.find(m.name);
  return it == models_.end() ? 0 : estimateModelMemory(it->second, m.ctx_size).total();
}

NodeSupervisor::Child* NodeSupervisor::router() {
  for (auto& c : children_)
    if (c.kind == "router") return &c;
  return nullptr;
}

KeyReload NodeSupervisor::reloadRouterKeys() {
  Child* r = router();
  if (!r || stopping_) return KeyReload::NoRouter;
  switch (r->supervisor->state()) {
    case ChildState::Ready:
    case ChildState::Unhealthy:
      spdlog::info("[router] mesh key file changed: sending SIGHUP so the router reloads its keys");
      r->launcher->signal(SIGHUP);
      return KeyReload::Signalled;
    case ChildState::Starting:
    case ChildState::Loading:
      spdlog::info("[router] mesh key file changed: SIGHUP follows once the router is ready");
      keyReloadPending_ = true;
      return KeyReload::Deferred;
    default:
      return KeyReload::NoRouter;
  }
}

void NodeSupervisor::deliverPendingKeyReload() {
  Child* r = router();
  if (!r || stopping_) {
    keyReloadPending_ = false;
    return;
  }
  if (r->supervisor->state() != ChildState::Ready) return;
  keyReloadPending_ = false;
  spdlog::info("[router] ready: sending the deferred SIGHUP so it reloads its mesh keys");
  r->launcher->signal(SIGHUP);
}

nlohmann::json NodeSupervisor::childJson(const Child& c) const {
  const ChildSnapshot s = c.supervisor->snapshot();
  nlohmann::json j = {{"name", s.name},
                      {"state", toString(s.state)},
                      {"pid", s.pid > 0 ? nlohmann::json(s.pid) : nlohmann::json(nullptr)},
                      {"port", s.port},
                      {"restarts", s.restarts},
                      {"last_exit", s.last_exit},
                      {"uptime_s", s.uptime_s},
                      {"health_poll_ms", s.last_poll_ms}};
  if (c.model) {
    j["model"] = c.model->name;  // the name clients send; "name" is the child's (NAME#2 for a replica)
    j["slots"] = c.model->parallel;
    j["ctx_size"] = c.model->ctx_size;
    j["embeddings"] = c.model->embeddings;
    // What the router needs to load on demand, unload when idle and make room
    // (router/routing/on_demand.h): memory is this process's estimate, 0 if unknown.
    j["load"] = c.model->on_demand ? "on_demand" : "always";
    j["idle_unload_ms"] = c.model->idle_unload.count();
    j["memory"] = modelMemory(*c.model);
    // While it loads: the share of the tensors loaded (llama-server's progress dots), 0 before.
    if (s.state == ChildState::Starting || s.state == ChildState::Loading)
      j["load_progress"] = c.launcher->loadProgress().value_or(0.0);
    if (auto d = digests_.of(c.model->name)) j["digest"] = *d;  // sha256 of the GGUF, once hashed
    if (auto it = models_.find(c.model->name); it != models_.end()) {
      const auto& g = it->second;
      j["gguf"] = {{"path", c.model->gguf.string()},
                   {"architecture", g.architecture},
                   {"name", g.name},
                   {"context_length", g.context_length},
                   {"file_size", g.file_size},
                   {"tensors", g.tensor_count}};
    }
  } else {
    j["listen"] = config_.router.listen.str();
  }
  return j;
}

nlohmann::json NodeSupervisor::status() const {
  nlohmann::json j = {{"node", config_.node.name},
                      {"version", QMESH_VERSION},
                      {"generation", generation_},
                      {"pid", ::getpid()},
                      {"uptime_s", std::chrono::duration<double>(clock_.now() - startedAt_).count()},
                      {"config", config_.file.string()},
                      {"stopping", stopping_},
                      {"memory_budget", config_.node.memory_budget.set()
                                            ? nlohmann::json(config_.node.memory_budget.resolve(physicalMemoryBytes()))
                                            : nlohmann::json(nullptr)},
                      {"draining", drain_.has_value()},
                      {"models", nlohmann::json::array()},
                      {"router", nullptr}};
  for (const auto& c : children_) {
    if (c.kind == "model") j["models"].push_back(childJson(c));
    else j["router"] = childJson(c);
  }
  return j;
}

std::string NodeSupervisor::metrics() const {
  std::ostringstream out;
  out << "# HELP qmesh_supervisor_child_restarts_total Restarts of each supervised child.\n"
         "# TYPE qmesh_supervisor_child_restarts_total counter\n";
  for (const auto& c : children_)
    out << "qmesh_supervisor_child_restarts_total{child=\"" << c.supervisor->name()
        << "\",kind=\"" << c.kind << "\"} " << c.supervisor->snapshot().restarts << "\n";
  out << "# HELP qmesh_supervisor_child_state 1 for the state each child is in.\n"
         "# TYPE qmesh_supervisor_child_state gauge\n";
  for (const auto& c : children_)
    for (ChildState s : kAllStates)
      out << "qmesh_supervisor_child_state{child=\"" << c.supervisor->name() << "\",state=\""
          << toString(s) << "\"} " << (c.supervisor->state() == s ? 1 : 0) << "\n";
  out << "# HELP qmesh_supervisor_health_poll_latency_ms Latency of answered /health polls.\n"
         "# TYPE qmesh_supervisor_health_poll_latency_ms histogram\n";
  for (const auto& c : children_) {
    std::string lines;
    c.supervisor->pollLatency().render(lines, "qmesh_supervisor_health_poll_latency_ms",
                                       "child=\"" + c.supervisor->name() + "\"");
    out << lines;
  }
  out << "# HELP qmesh_supervisor_uptime_seconds Seconds since the supervisor started.\n"
         "# TYPE qmesh_supervisor_uptime_seconds gauge\n"
      << "qmesh_supervisor_uptime_seconds "
      << std::chrono::duration<double>(clock_.now() - startedAt_).count() << "\n";
  return out.str();
}

}  // namespace qmesh
