// A real qmesh-supervisor started by a test on its own control port, with a config written
// for the test; the status JSON is read from its control API.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_env.h"
#include "tests/support/test_process.h"

namespace qmesh::test {

// `qmesh-supervisor ARGS...` run to completion (30 s at most), as the CLI tests run it.
CommandResult runSupervisor(std::vector<std::string> args);

// YAML for one node: `models` and `extra` are raw YAML appended under their sections.
struct NodeYaml {
  uint16_t control_port = 0;
  std::string supervisor;   // raw YAML lines under "supervisor:" (indented 2)
  std::string models;       // raw YAML list items under "models:"
  std::string node_extra;   // raw YAML lines under "node:" (indented 2)
  bool router = false;
  uint16_t router_port = 0;
  std::string render(const std::filesystem::path& dataDir) const;
};

// Fast health and restart settings so tests see restarts in well under a second.
std::string fastSupervisorSettings();
// A models: entry for the demo model. Each of the `parallel` slots holds ctx / parallel tokens,
// at most 4096 (the demo model's training context, see scripts/make-demo-model.sh).
std::string demoModelEntry(const std::string& name, int parallel = 2, bool embeddings = false, int ctx = 1024);

class RunningNode {
 public:
  explicit RunningNode(NodeYaml yaml);
  ~RunningNode() = default;

  TestProcess& process() { return *process_; }
  const std::filesystem::path& configFile() const { return config_; }
  uint16_t controlPort() const { return yaml_.control_port; }

  // nullopt when the control API does not answer.
  std::optional<nlohmann::json> status() const;
  std::optional<nlohmann::json> model(const std::string& name) const;
  // Waits until the model reports `state` (and, if given, a pid other than `notPid`).
  bool waitForState(const std::string& name, const std::string& state,
                    std::chrono::milliseconds timeout, int notPid = -1) const;
  std::string log() const { return process_->output(); }

 private:
  TempDir dir_;
  NodeYaml yaml_;
  std::filesystem::path config_;
  std::unique_ptr<TestProcess> process_;
};

}  // namespace qmesh::test
