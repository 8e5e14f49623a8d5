#include "tests/integration/node_fixture.h"

#include <sstream>

#include "tests/support/http_client.h"

namespace qmesh::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

CommandResult runSupervisor(std::vector<std::string> args) {
  args.insert(args.begin(), supervisorBinary().string());
  return runCommand(std::move(args), std::chrono::seconds(30));
}

std::string NodeYaml::render(const fs::path& dataDir) const {
  std::ostringstream y;
  y << "node:\n  name: test-node\n  data_dir: " << dataDir.string() << "\n  control: 127.0.0.1:"
    << control_port << "\n  log_level: debug\n" << node_extra;
  if (!supervisor.empty()) y << "supervisor:\n" << supervisor;
  y << "models:\n" << models;
  y << "router:\n  enabled: " << (router ? "true" : "false") << "\n";
  if (router) y << "  listen: 127.0.0.1:" << router_port << "\n";
  return y.str();
}

std::string fastSupervisorSettings() {
  return "  stop_grace: 2s\n"
         "  health:\n    interval: 200ms\n    timeout: 300ms\n    failure_threshold: 2\n"
         "    startup_timeout: 60s\n"
         "  restart:\n    backoff_initial: 50ms\n    backoff_max: 500ms\n    max_restarts: 5\n"
         "    window: 1m\n";
}

std::string demoModelEntry(const std::string& name, int parallel, bool embeddings, int ctx) {
  return "  - name: " + name + "\n    gguf: " + demoModel().string() + "\n    ctx_size: " + std::to_string(ctx) +
         "\n    parallel: " + std::to_string(parallel) +
         "\n    threads: 1\n    embeddings: " + (embeddings ? "true" : "false") + "\n";
}

RunningNode::RunningNode(NodeYaml yaml) : yaml_(std::move(yaml)) {
  if (yaml_.control_port == 0) yaml_.control_port = freeLoopbackPort();
  config_ = dir_.write("node.yaml", yaml_.render(dir_ / "data"));
  process_ = std::make_unique<TestProcess>(
      std::vector<std::string>{supervisorBinary().string(), "start", "--config", config_.string()},
      dir_ / "supervisor.log");
}

std::optional<nlohmann::json> RunningNode::status() const {
  const auto r = httpGet("http://127.0.0.1:" + std::to_string(yaml_.control_port) + "/status", 2s);
  if (r.status != 200) return std::nullopt;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::optional<nlohmann::json> RunningNode::model(const std::string& name) const {
  auto s = status();
  if (!s) return std::nullopt;
  for (const auto& m : (*s)["models"])
    if (m["name"] == name) return m;
  if (name == "router" && !(*s)["router"].is_null()) return (*s)["router"];
  return std::nullopt;
}

bool RunningNode::waitForState(const std::string& name, const std::string& state,
                               std::chrono::milliseconds timeout, int notPid) const {
  return waitUntil(
      [&] {
        auto m = model(name);
        if (!m || (*m)["state"] != state) return false;
        return notPid < 0 || (!(*m)["pid"].is_null() && (*m)["pid"].get<int>() != notPid);
      },
      timeout, 20ms);
}

}  // namespace qmesh::test
