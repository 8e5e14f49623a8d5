// Several real qmesh nodes on one machine (qmesh-supervisor + qmesh-router + llama-server
// each, on their own loopback ports), joined into one mesh: the multi-process mesh tests.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/test_env.h"
#include "tests/support/test_process.h"

namespace qmesh::test {

struct MeshNodeSpec {
  std::string name;
  std::string model;                      // served under this name; "" = a router-only node
  std::vector<std::string> seeds;         // gossip HOST:PORT of other nodes
  std::filesystem::path keyFile;          // shared by the nodes of one mesh
  std::vector<std::string> startArgs;     // extra `qmesh-supervisor start` arguments (--join)
  std::string routerYaml{};               // extra lines for its `router:` section
  int ctxSize = 1024;                     // the model's ctx_size (shared by the slots)
  int parallel = 2;                       // the model's slots
  std::string supervisorYaml{};           // its `supervisor:` section; "" = fastSupervisorSettings()
  // Where the router, gossip and data plane listen. The control API stays on 127.0.0.1 (of
  // the node's own network namespace when `wrap` puts it in one).
  std::string address = "127.0.0.1";
  // Rewrites the supervisor's argv before it starts, e.g. NetnsHosts::wrap to run the whole
  // node inside a network namespace. Empty = run it as is.
  std::function<std::vector<std::string>(std::vector<std::string>)> wrap{};
  std::string nodeYaml{};                 // extra lines for its `node:` section (e.g. drain_timeout)
  std::map<std::string, std::string> env{};  // added to the supervisor's (and so its children's)
  std::string modelYaml{};                // extra lines for its model entry (e.g. "    load: on_demand\n")
};

class MeshTestNode {
 public:
  MeshTestNode(const std::filesystem::path& root, MeshNodeSpec spec);
  ~MeshTestNode();

  void start();
  // kill -9 of the supervisor, its router and its llama-server(s), all at once.
  void killAll();
  // SIGTERM to the supervisor and wait for a clean exit.
  bool stop();

  std::string gossipAddress() const { return spec_.address + ":" + std::to_string(gossipPort_); }
  uint16_t routerPort() const { return routerPort_; }
  uint16_t gossipPort() const { return gossipPort_; }  // UDP gossip and TCP push-pull
  uint16_t dataPort() const { return dataPort_; }
  uint16_t controlPort() const { return controlPort_; }
  pid_t supervisorPid() const { return proc_ ? proc_->pid() : -1; }
  std::string routerUrl(const std::string& path = "") const;
  const std::filesystem::path& config() const { return config_; }
  // node.data_dir: kept across stop/kill and start, as a real node's state dir is.
  std::filesystem::path dataDir() const { return dir_ / "data"; }
  const std::string& name() const { return spec_.name; }
  std::string log() const { return proc_ ? proc_->output() : ""; }

  std::optional<nlohmann::json> mesh() const;          // GET /api/mesh
  std::string stateOf(const std::string& member) const;  // "" when unknown
  // The control API: from the test's own network namespace only (not through `wrap`).
  std::optional<nlohmann::json> supervisorStatus() const;
  int llamaPort(const std::string& model) const;       // 0 when not known
  // Runs `qmesh-supervisor ARGS... --config <this node>` to completion.
  CommandResult supervisorCommand(std::vector<std::string> args) const;

 private:
  MeshNodeSpec spec_;
  std::filesystem::path dir_, config_;
  uint16_t controlPort_, routerPort_, gossipPort_, dataPort_;
  std::unique_ptr<TestProcess> proc_;
  int starts_ = 0;
};

// Waits until every node sees every named member in `state`.
bool waitForMeshState(const std::vector<MeshTestNode*>& observers, const std::vector<std::string>& members,
                      const std::string& state, std::chrono::milliseconds timeout);

// Busy slots of a llama-server (its /slots), -1 when it does not answer.
int busySlots(int llamaPort);

}  // namespace qmesh::test
