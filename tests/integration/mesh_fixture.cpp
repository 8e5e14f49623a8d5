#include "tests/integration/mesh_fixture.h"

#include <csignal>
#include <fstream>
#include <sstream>

#include "tests/integration/node_fixture.h"
#include "tests/support/http_client.h"

namespace qmesh::test {

using nlohmann::json;
using namespace std::chrono_literals;

MeshTestNode::MeshTestNode(const std::filesystem::path& root, MeshNodeSpec spec)
    : spec_(std::move(spec)), dir_(root / spec_.name) {
  std::filesystem::create_directories(dir_);
  controlPort_ = freeLoopbackPort();
  routerPort_ = freeLoopbackPort();
  gossipPort_ = freeLoopbackPort();
  dataPort_ = freeLoopbackPort();
  std::ostringstream y;
  y << "node:\n  name: " << spec_.name << "\n  data_dir: " << dataDir().string()
    << "\n  control: 127.0.0.1:" << controlPort_ << "\n  log_level: debug\n" << spec_.nodeYaml;
  y << "supervisor:\n" << (spec_.supervisorYaml.empty() ? fastSupervisorSettings() : spec_.supervisorYaml);
  y << "models:"
    << (spec_.model.empty() ? " []\n"
                            : "\n" + demoModelEntry(spec_.model, spec_.parallel, false, spec_.ctxSize) + spec_.modelYaml);
  y << "router:\n  listen: " << spec_.address << ":" << routerPort_ << "\n" << spec_.routerYaml;
  y << "mesh:\n  gossip: " << spec_.address << ":" << gossipPort_ << "\n  data: " << spec_.address << ":" << dataPort_
    << "\n  key_file: " << spec_.keyFile.string() << "\n  seeds: [";
  for (std::size_t i = 0; i < spec_.seeds.size(); ++i) y << (i ? ", " : "") << spec_.seeds[i];
  y << "]\n";
  config_ = dir_ / "node.yaml";
  std::ofstream(config_) << y.str();
}

MeshTestNode::~MeshTestNode() {
  if (proc_ && proc_->running()) stop();
}

void MeshTestNode::start() {
  std::vector<std::string> argv = {supervisorBinary().string(), "start", "--config", config_.string()};
  argv.insert(argv.end(), spec_.startArgs.begin(), spec_.startArgs.end());
  if (spec_.wrap) argv = spec_.wrap(std::move(argv));
  proc_ = std::make_unique<TestProcess>(argv, dir_ / ("supervisor-" + std::to_string(++starts_) + ".log"), spec_.env);
}

void MeshTestNode::killAll() {
  if (!proc_) return;
  std::vector<pid_t> pids = childrenOf(proc_->pid());
  proc_->signal(SIGKILL);
  for (pid_t p : pids) ::kill(p, SIGKILL);
  proc_->waitExit(5s);
  waitUntil([&] {
    for (pid_t p : pids)
      if (processExists(p)) return false;
    return true;
  }, 5s);
}

bool MeshTestNode::stop() {
  if (!proc_ || !proc_->running()) return true;
  proc_->signal(SIGTERM);
  return proc_->waitExit(15s).has_value();
}

std::string MeshTestNode::routerUrl(const std::string& path) const {
  return "http://" + spec_.address + ":" + std::to_string(routerPort_) + path;
}

std::optional<json> MeshTestNode::mesh() const {
  auto r = httpGet(routerUrl("/api/mesh"), 2s);
  if (r.status != 200) return std::nullopt;
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::string MeshTestNode::stateOf(const std::string& member) const {
  auto m = mesh();
  if (!m || !m->contains("members")) return "";
  for (const auto& x : (*m)["members"])
    if (x.value("name", "") == member) return x.value("state", "");
  return "";
}

std::optional<json> MeshTestNode::supervisorStatus() const {
  auto r = httpGet("http://127.0.0.1:" + std::to_string(controlPort_) + "/status", 2s);
  if (r.status != 200) return std::nullopt;
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

int MeshTestNode::llamaPort(const std::string& model) const {
  auto s = supervisorStatus();
  if (!s) return 0;
  for (const auto& m : (*s)["models"])
    if (m.value("name", "") == model && m["port"].is_number()) return m["port"].get<int>();
  return 0;
}

CommandResult MeshTestNode::supervisorCommand(std::vector<std::string> args) const {
  std::vector<std::string> argv = {supervisorBinary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--config");
  argv.push_back(config_.string());
  return runCommand(argv, 20s);
}

bool waitForMeshState(const std::vector<MeshTestNode*>& observers, const std::vector<std::string>& members,
                      const std::string& state, std::chrono::milliseconds timeout) {
  return waitUntil(
      [&] {
        for (auto* o : observers)
          for (const auto& m : members)
            if (m != o->name() && o->stateOf(m) != state) return false;
        return true;
      },
      timeout, 50ms);
}

int busySlots(int llamaPort) {
  auto r = httpGet("http://127.0.0.1:" + std::to_string(llamaPort) + "/slots", 2s);
  auto slots = json::parse(r.body, nullptr, false);
  if (!slots.is_array()) return -1;
  int busy = 0;
  for (const auto& slot : slots) busy += slot.value("is_processing", false) ? 1 : 0;
  return busy;
}

}  // namespace qmesh::test
