// Which workers serve which model, in what state, and how loaded they are. Fed by the
// supervisor's /status (or the static --worker list); read by selection and admission.
// Single-threaded: only the router's io_context thread touches it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "router/membership/node_id.h"
#include "router/net.h"

namespace qmesh::router {

// The supervisor's states; only Ready may receive traffic. The order is also the code in
// gossip (node_meta.cpp): append only. Unloaded: models[].load: on_demand, not running.
enum class WorkerState { Starting, Loading, Ready, Unhealthy, Restarting, Failed, Stopped, Unknown, Unloaded };
WorkerState parseWorkerState(std::string_view text);
std::string_view toString(WorkerState s);

// What the supervisor (or --worker) says about one worker.
struct WorkerInfo {
  std::string model;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int64_t slots = 1;
  WorkerState state = WorkerState::Unknown;
  int64_t pid = 0;
  bool embeddings = false;
  int64_t restarts = 0;
  // sha256 of the GGUF file, hex (the supervisor's /status, gossip, or --worker digest=);
  // a stream is only continued on a worker whose digest is the same. Empty: unknown.
  std::string digest{};

  // Mesh: a worker on another node, reached through that node's router (host/port unused).
  bool remote = false;
  std::string node{};             // that node's name
  membership::NodeId peer{};      // its identity: the data-plane handshake must prove it
  std::string dataAddress{};      // "host:port" of its router's data-plane listener
  int64_t inFlight = 0;           // its load as last gossiped
  int64_t queued = 0;
  int health = 100;               // QMesh's score, see node_meta.h
  // That node's free memory budget (MiB; UINT32_MAX: none) and loads under way, as last
  // gossiped: where the mesh loads a model on demand (routing/load_placement.h).
  uint64_t nodeFreeMemoryMiB = 0xffffffff;
  int nodeLoadsInProgress = 0;

  // Loading on demand (routing/on_demand.h), from the supervisor's /status; local only.
  bool onDemand = false;          // models[].load: on_demand
  int64_t idleUnloadMs = 0;       // models[].idle_unload; 0 = never
  uint64_t memory = 0;            // this process's estimated memory, 0 = unknown
  std::string lastExit{};         // why its previous instance ended (a failed load's reason)
  double loadProgress = -1;       // 0..1 while llama-server loads, when it says; -1 = none
  double tokensPerSecond = -1;    // remote: its streams' speed, from its node's gossip; -1 = not told
  // Its node drains (SIGTERM, `qmesh-supervisor drain`): it finishes what it has and takes
  // nothing new, not even a continuation. Apart from `state`, so streams on it are not moved.
  bool draining = false;
};

struct StatusSnapshot {
  std::string node;
  uint64_t generation = 0;
  std::vector<WorkerInfo> workers;
  uint64_t memoryBudget = 0;  // node.memory_budget in bytes; 0 = none
};

// The supervisor's GET /status body. Workers without a port (not spawned yet) are kept:
// they make the model known (404 vs 503) without being routable.
Result<StatusSnapshot> parseSupervisorStatus(std::string_view json);

// One live worker. Shared with in-flight requests so their counts survive a status update
// that drops or replaces the entry.
struct Worker {
  std::string id;  // "demo@127.0.0.1:38211"
  WorkerInfo info;
  int64_t outstanding = 0;  // requests holding one of its slots
  uint64_t served = 0;
  uint64_t failures = 0;    // connect failures and 5xx before the first byte
  TimePoint unreachable_until{};  // local evidence of a dead worker, see markUnreachable
  int64_t unreachable_pid = -1;

  bool routable(TimePoint now) const {
    return info.state == WorkerState::Ready && !info.draining && (info.remote || info.port != 0) &&
           now >= unreachable_until;
  }
};
using WorkerPtr = std::shared_ptr<Worker>;

class WorkerDirectory {
 public:
  // Replaces the set of local workers; an entry with the same id keeps its counters. A
  // worker marked unreachable becomes routable again once the supervisor reports a new pid.
  void apply(const StatusSnapshot& snapshot);
  // Replaces what one remote node (keyed by its id) serves, from its gossip; counters of
  // entries that stay are kept, as for local ones.
  void applyRemote(const std::string& peerKey, std::vector<WorkerInfo> workers);
  // The node is suspect, dead or gone: none of its workers gets another request.
  void removeRemote(const std::string& peerKey);

  // A refused connection: skip the worker for `hold`, or until a restart is reported.
  void markUnreachable(Worker& w, TimePoint now, std::chrono::milliseconds hold);

  // This node drains: its own workers (now and in every later status) are marked draining.
  void setLocalDraining();
  bool localDraining() const { return localDraining_; }
  // The drain's deadline passed: the supervisor stops this node's workers now. They read as
  // stopped (now and in every later status), so the streams still on them move to other
  // workers at once (stream_continuation.h's worker_down) instead of waiting for llama-server,
  // which keeps a connection with a stream in flight open until it is SIGKILLed.
  void setLocalStopping();

  // A remote node's router refused us: every worker behind it is skipped for `hold`.
  void markPeerUnreachable(const std::string& peerKey, TimePoint now, std::chrono::milliseconds hold);

  std::vector<std::string> models() const;  // sorted, every model a worker is listed for
  bool knows(const std::string& model) const { return byModel_.count(model) > 0; }
  const std::vector<WorkerPtr>& workersOf(const std::string& model) const;
  std::vector<WorkerPtr> all() const;
  bool anyRoutable(const std::string& model, TimePoint now) const;
  const std::string& supervisorNode() const { return node_; }
  uint64_t memoryBudget() const { return memoryBudget_; }  // of the local node; 0 = none
  uint64_t generation() const { return generation_; }

 private:
  void rebuild();

  std::vector<WorkerPtr> local_;
  std::map<std::string, std::vector<WorkerPtr>> remote_;  // by peer key
  std::map<std::string, std::vector<WorkerPtr>> byModel_;  // local first, then remote
  std::string node_;
  uint64_t generation_ = 0;
  uint64_t memoryBudget_ = 0;
  bool localDraining_ = false;
  bool localStopping_ = false;
};

}  // namespace qmesh::router
