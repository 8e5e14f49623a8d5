// The node: one ChildSupervisor per model (a llama-server each) plus one for the router,
// driven by an Asio event loop. Owns every child; stop() ends them all and then the loop.
//
// Concurrency: everything runs on the io_context's single thread, except the health prober's
// own thread, whose results are posted back to it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "common/gguf.h"
#include "common/node_config.h"
#include "supervisor/child_supervisor.h"
#include "supervisor/model_digests.h"
#include "supervisor/node_drain.h"
#include "supervisor/process_launcher.h"

namespace qmesh {

struct NodeBinaries {
  std::filesystem::path llama_server;
  std::filesystem::path router;  // empty: no router child
  // Added to the router's environment only (QMESH_JOIN: the invite token, kept out of argv).
  std::vector<std::pair<std::string, std::string>> router_env;
};

// The router child's command line: {router, "--config", file}.
std::vector<std::string> routerArgv(const NodeBinaries& binaries, const NodeConfig& config);

// What asking the router to re-read the mesh key file did.
enum class KeyReload {
  Signalled,  // SIGHUP sent to the running, ready router
  Deferred,   // the router is starting: SIGHUP follows once it is ready
  NoRouter,   // no router process (none configured, restarting, failed or stopped): it reads
              // the file when it next starts
};

class NodeSupervisor {
 public:
  NodeSupervisor(boost::asio::io_context& io, NodeConfig config, NodeBinaries binaries,
                 std::map<std::string, GgufMetadata> models);
  ~NodeSupervisor();

  void start();
  // Graceful: SIGTERM to every child, SIGKILL after the grace period; `done` runs once all
  // are reaped.
  void stop(std::function<void()> done);
  // SIGTERM/SIGINT, POST /drain: the router first, the workers once it is gone or at
  // node.drain_timeout, then `done` (supervisor/node_drain.h). Ignored while stopping; a
  // node without a running router just stops.
  void drain(std::function<void()> done);
  bool restart(const std::string& child);  // false: no such child
  // Models loaded on demand (models[].load, or any model by hand): load spawns an unloaded
  // model's llama-server if node.memory_budget leaves room for it beside the loaded ones;
  // unload ends it (SIGTERM, SIGKILL after stop_grace) and it stays down.
  struct ModelAction {
    int http_status = 200;  // 202 done, 404 no such model, 409 refused (message says why)
    std::string message;
  };
  ModelAction load(const std::string& model);
  ModelAction unload(const std::string& model);
  const LogTail* logTail(const std::string& child) const;  // null: no such child
  // The router re-reads the key file on SIGHUP. Only a router that was ready is signalled:
  // before that it may not handle SIGHUP yet, and SIGHUP's default action kills.
  KeyReload reloadRouterKeys();

  nlohmann::json status() const;
  std::string metrics() const;
  uint64_t generation() const { return generation_; }
  // Called (on the loop) after every change of any child; used to wake long-polls.
  void setOnChange(std::function<void()> f) { onChange_ = std::move(f); }

 private:
  struct Child {
    std::string kind;  // "model" or "router"
    const ModelConfig* model = nullptr;
    std::unique_ptr<ProcessLauncher> launcher;
    std::unique_ptr<ChildSupervisor> supervisor;
  };
  void addChild(const std::string& kind, const std::string& name, const ModelConfig* model,
                ProcessLauncher::CommandFactory factory);
  void tick();
  void scheduleTick();
  void armSigchld();
  void changed();
  Child* router();
  uint64_t modelMemory(const ModelConfig& m) const;  // the estimate, 0 if unknown
  void deliverPendingKeyReload();
  nlohmann::json childJson(const Child& c) const;

  boost::asio::io_context& io_;
  NodeConfig config_;
  NodeBinaries binaries_;
  std::map<std::string, GgufMetadata> models_;
  SteadyClock clock_;
  SeededRandom random_;
  TimePoint startedAt_;
  std::unique_ptr<HealthProber> prober_;
  std::vector<Child> children_;
  boost::asio::steady_timer tickTimer_;
  boost::asio::signal_set sigchld_;
  uint64_t generation_ = 1;
  std::function<void()> onChange_;
  std::function<void()> stopped_;
  bool stopping_ = false;
  bool keyReloadPending_ = false;  // a reload asked for while the router was starting
  bool finished_ = false;  // every child reaped after stop()
  std::optional<DrainPlan> drain_;  // drain() is on (until stop() takes over)
  std::function<void()> drained_;   // drain()'s `done`, handed to stop()
  ModelDigests digests_{io_, [this] { changed(); }};  // last: its thread stops first
};

}  // namespace qmesh
