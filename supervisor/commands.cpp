#include "supervisor/commands.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/duration.h"
#include "common/fd_limit.h"
#include "common/gguf.h"
#include "common/install_paths.h"
#include "common/logging.h"
#include "common/mesh_setup.h"
#include "supervisor/control_api.h"
#include "supervisor/control_client.h"
#include "supervisor/control_token.h"
#include "supervisor/event_loop.h"
#include "supervisor/exit_codes.h"
#include "supervisor/join_token.h"
#include "supervisor/memory_budget.h"
#include "supervisor/model_pull.h"
#include "supervisor/node_supervisor.h"
#include "supervisor/ports.h"

namespace qmesh {

namespace fs = std::filesystem;

namespace {

// Everything `start` and `check-config` verify before anything is spawned.
struct Prepared {
  NodeConfig config;
  NodeBinaries binaries;
  std::map<std::string, GgufMetadata> models;
};

int fail(int code, const std::string& message) {
  std::cerr << "qmesh-supervisor: " << message << "\n";
  return code;
}

fs::path routerBinary() {
  std::error_code ec;
  const fs::path exeDir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const fs::path& p : {exeDir / "qmesh-router", exeDir / ".." / "router" / "qmesh-router"})
    if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec);
  return exeDir / "qmesh-router";
}

// On failure returns the exit code with the message already printed.
std::variant<Prepared, int> prepare(const fs::path& file) {
  auto config = loadNodeConfig(file);
  if (!config) return fail(exit_code::kConfig, "config error:\n" + config.error().message);
  Prepared p{std::move(*config), {}, {}};
  if (!p.config.models.empty()) {
    auto bin = resolveLlamaServer(p.config.node.llama_server);
    if (!bin) return fail(exit_code::kMissingBinary, bin.error().message);
    p.binaries.llama_server = *bin;
  }
  if (p.config.router.enabled) {
    p.binaries.router = routerBinary();
    if (access(p.binaries.router.c_str(), X_OK) != 0)
      return fail(exit_code::kMissingBinary,
                  "qmesh-router not found at " + p.binaries.router.string() +
                      ": build it (scripts/setup.sh), or set router.enabled: false");
  }
  for (size_t i = 0; i < p.config.models.size(); ++i) {
    const auto& m = p.config.models[i];
    std::error_code ec;
    if (!m.url.empty() && !fs::exists(m.gguf, ec)) continue;  // `start` downloads it first
    auto meta = readGgufMetadata(m.gguf);
    if (!meta)
      return fail(exit_code::kModel, "models[" + std::to_string(i) + "] '" + m.name +
                                         "' in " + p.config.file.string() + ": " +
                                         meta.error().message);
    p.models[m.name] = *meta;
  }
  if (auto s = checkMemoryBudget(p.config, p.models, physicalMemoryBytes()); !s)
    return fail(exit_code::kConfig, p.config.file.string() + ": " + s.error().message);
  return p;
}

bool isIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

// The router binds these; a busy one is a clear error now rather than a crash-looping router.
// TCP only (gossip's push-pull and the data listener): the UDP side fails in the router.
int checkMeshPorts(const NodeConfig& c) {
  if (!c.mesh.enabled() || !c.router.enabled) return exit_code::kOk;
  for (const auto& [key, hp] : {std::pair<const char*, HostPort>{"mesh.gossip", c.mesh.gossip},
                                {"mesh.data", c.mesh.data}}) {
    if (hp.port == 0 || !isIpLiteral(hp.host)) continue;
    if (auto s = checkPortFree(hp.host, hp.port); !s)
      return fail(exit_code::kAddressInUse, std::string(key) + ": " + s.error().message +
                                                ": stop whatever uses it or choose another port");
  }
  return exit_code::kOk;
}

// Keys and seeds before anything is spawned; the router repeats it (and finds it done).
int prepareMeshForStart(const NodeConfig& c, const std::string& joinToken, NodeBinaries& binaries) {
  auto mesh = prepareMesh(c, joinToken);
  if (!mesh) return fail(exit_code::kConfig, "mesh: " + mesh.error().message);
  if (!mesh->enabled) return exit_code::kOk;
  const std::string fp = meshKeyFingerprint(mesh->keys.front());
  if (mesh->created_key)
    spdlog::info("mesh: created the key of a new mesh ({}) in {}; other nodes join with "
                 "`qmesh-supervisor invite --config {}`",
                 fp, c.mesh.key_file.string(), c.file.string());
  if (mesh->invite_applied)
    spdlog::info("mesh: the invite's key {} is now the primary in {}", fp, c.mesh.key_file.string());
  spdlog::info("mesh: gossip on {}, data on {}, {} seed(s), {} key(s), primary {}", c.mesh.gossip.str(),
               c.mesh.data.str(), mesh->seeds.size(), mesh->keys.size(), fp);
  // The router needs the token's seeds too. Through its environment, not argv: a command
  // line is world-readable in /proc, an environment only by the node's own user. Only the
  // router's: a llama-server has no use for the mesh key.
  if (!joinToken.empty() && c.router.enabled) binaries.router_env = {{kJoinEnv, joinToken}};
  return exit_code::kOk;
}

int checkPorts(const NodeConfig& c) {
  for (size_t i = 0; i < c.models.size(); ++i) {
    if (c.models[i].port == 0) continue;
    if (auto s = checkPortFree("127.0.0.1", c.models[i].port); !s)
      return fail(exit_code::kAddressInUse,
                  "models[" + std::to_string(i) + "].port: " + s.error().message +
                      ": stop whatever uses it, choose another port, or use 0 to pick a free one");
  }
  if (c.router.enabled)
    if (auto s = checkPortFree(c.router.listen.host, c.router.listen.port); !s)
      return fail(exit_code::kAddressInUse,
                  "router.listen: " + s.error().message +
                      ": stop whatever uses it or set router.listen to a free address");
  return checkMeshPorts(c);
}

// After logging is set up, so progress lines carry the node's format. Fills in the
// metadata prepare() could not read yet.
int downloadMissingModels(Prepared& p) {
  if (int code = pullModels(p.config, {}); code != exit_code::kOk) return code;
  for (const auto& m : p.config.models) {
    if (p.models.count(m.name)) continue;
    auto meta = readGgufMetadata(m.gguf);
    if (!meta) return fail(exit_code::kModel, "model '" + m.name + "': " + meta.error().message);
    p.models[m.name] = *meta;
  }
  if (auto s = checkMemoryBudget(p.config, p.models, physicalMemoryBytes()); !s)
    return fail(exit_code::kConfig, p.config.file.string() + ": " + s.error().message);
  return exit_code::kOk;
}

std::string describeChild(const nlohmann::json& c) {
  std::ostringstream line;
  line << "  " << c.value("name", "?") << "  " << c.value("state", "?");
  if (!c["pid"].is_null()) line << "  pid " << c["pid"];
  line << "  port " << c.value("port", 0) << "  restarts " << c.value("restarts", 0);
  if (!c.value("last_exit", "").empty()) line << "  last exit: " << c.value("last_exit", "");
  return line.str();
}

}  // namespace

int runCheckConfig(const fs::path& file) {
  auto prepared = prepare(file);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  const auto& p = std::get<Prepared>(prepared);
  std::cout << p.config.file.string() << ": OK\n  node " << p.config.node.name << ", control "
            << p.config.node.control.str() << "\n";
  for (const auto& m : p.config.models) {
    if (!p.models.count(m.name)) {
      std::cout << "  model " << m.name << ": " << m.url << ", not downloaded yet (`start` or `pull` fetches it into "
                << m.gguf.string() << ")\n";
      continue;
    }
    const auto& g = p.models.at(m.name);
    std::cout << "  model " << m.name << ": " << m.gguf.string() << " (" << g.architecture
              << ", " << g.file_size / (1024 * 1024) << " MiB, trained context "
              << g.context_length << "), " << m.parallel << " slots, about "
              << describeEstimate(estimateModelMemory(g, m.ctx_size)) << "\n";
  }
  if (p.config.router.enabled) std::cout << "  router on " << p.config.router.listen.str() << "\n";
  if (const auto& m = p.config.mesh; m.enabled())
    std::cout << "  mesh gossip on " << m.gossip.str() << ", data on " << m.data.str() << ", "
              << m.seeds.size() << " seed(s), key file " << m.key_file.string() << "\n";
  return exit_code::kOk;
}

int runStart(const fs::path& file, const std::string& joinToken) {
  auto prepared = prepare(file);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  auto& p = std::get<Prepared>(prepared);
  const NodeConfig& c = p.config;
  if (int code = checkPorts(c); code != exit_code::kOk) return code;
  initLogging("supervisor", c.node.name, c.node.log_level, c.node.log_format);
  raiseFdLimitAndLog("supervisor");  // children inherit it: the router needs the room most
  std::error_code ec;
  fs::create_directories(c.node.data_dir, ec);
  if (ec)
    return fail(exit_code::kConfig, "node.data_dir " + c.node.data_dir.string() +
                                        " cannot be created: " + ec.message());
  if (int code = downloadMissingModels(p); code != exit_code::kOk) return code;
  if (int code = prepareMeshForStart(c, joinToken, p.binaries); code != exit_code::kOk) return code;
  ::signal(SIGPIPE, SIG_IGN);

  boost::asio::io_context io;
  NodeSupervisor node(io, c, p.binaries, p.models);
  bool shuttingDown = false;
  auto shutdown = [&] {
    shuttingDown = true;
    node.stop([&] { io.stop(); });  // also ends a drain in progress at once
  };
  auto drain = [&] {
    shuttingDown = true;
    node.drain([&] { io.stop(); });
  };
  const std::string token = generateControlToken();
  ControlApi api(io, node, shutdown, token);
  api.setOnDrain(drain);
  if (auto s = api.listen(c.node.control); !s) return fail(exit_code::kAddressInUse, s.error().message);
  // Only once the address is ours: a second `start` that fails must not replace the running
  // supervisor's token. Nothing is accepted before io.run(), so no request misses it.
  if (auto s = writeControlToken(c.node.data_dir, token); !s)
    return fail(exit_code::kConfig, "node.data_dir: " + s.error().message +
                                        ": make the folder writable by this user or set node.data_dir");
  node.setOnChange([&] { api.notifyChange(); });

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void(boost::system::error_code, int)> onSignal = [&](auto ec, int sig) {
    if (ec) return;
    if (shuttingDown) {
      spdlog::warn("second signal: killing every child now");
      io.stop();  // the launchers' destructors SIGKILL and reap what is left
      return;
    }
    spdlog::info("received {}: draining, then stopping (a second signal kills every child now)",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    drain();
    signals.async_wait(onSignal);
  };
  signals.async_wait(onSignal);

  const fs::path pidFile = c.node.data_dir / "supervisor.pid";
  std::ofstream(pidFile) << ::getpid() << "\n";
  spdlog::info("qmesh-supervisor {} for node '{}' (config {}): control API on http://{}, {} model(s){}",
               QMESH_VERSION, c.node.name, c.file.string(), c.node.control.str(), c.models.size(),
               c.router.enabled ? ", router on http://" + c.router.listen.str() : "");
  node.start();
  runResilient(io, api.counters().loop_exceptions);
  api.close();
  fs::remove(pidFile, ec);
  fs::remove(controlTokenPath(c.node.data_dir), ec);
  spdlog::info("qmesh-supervisor stopped");
  return exit_code::kOk;
}

int runStatus(const fs::path& file, bool json) {
  auto config = loadNodeConfig(file);
  if (!config) return fail(exit_code::kConfig, "config error:\n" + config.error().message);
  const auto reply = controlRequest(config->node.control, "GET", "/status");
  if (!reply.reached)
    return fail(exit_code::kNotRunning, "no qmesh-supervisor answers on " +
                                            config->node.control.str() + " (" + reply.error +
                                            "): start it with `qmesh-supervisor start --config " +
                                            file.string() + "`");
  if (json) {
    std::cout << reply.body << "\n";
    return exit_code::kOk;
  }
  const auto s = nlohmann::json::parse(reply.body, nullptr, false);
  if (s.is_discarded()) return fail(exit_code::kRuntime, "unreadable status: " + reply.body);
  std::cout << "node " << s.value("node", "?") << "  pid " << s["pid"] << "  version "
            << s.value("version", "?") << (s.value("draining", false) ? "  draining" : "") << "\nmodels:\n";
  for (const auto& m : s["models"]) std::cout << describeChild(m) << "\n";
  if (!s["router"].is_null())
    std::cout << "router:\n" << describeChild(s["router"]) << "  listen "
              << s["router"].value("listen", "") << "\n";
  return exit_code::kOk;
}

namespace {

// `stop` and `drain` end once the control API goes away: the supervisor closes it only after
// every child is reaped. `within` bounds the wait (the supervisor's own bounds plus a margin).
int waitUntilStopped(const NodeConfig& config, std::chrono::steady_clock::duration within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!controlRequest(config.node.control, "GET", "/status", Millis(500)).reached) {
      std::cout << "stopped\n";
      return exit_code::kOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return fail(exit_code::kRuntime, "the supervisor did not stop in time");
}

}  // namespace

int runStop(const fs::path& file) {
  auto config = loadNodeConfig(file);
  if (!config) return fail(exit_code::kConfig, "config error:\n" + config.error().message);
  const auto post = controlPost(*config, "/shutdown");
  if (!post.reply.reached)
    return fail(exit_code::kNotRunning,
                "no qmesh-supervisor answers on " + config->node.control.str() + ": nothing to stop");
  if (const std::string refused = post.refusal(); !refused.empty()) return fail(exit_code::kRefused, refused);
  return waitUntilStopped(*config, config->supervisor.stop_grace + std::chrono::seconds(10));
}

int runDrain(const fs::path& file) {
  auto config = loadNodeConfig(file);
  if (!config) return fail(exit_code::kConfig, "config error:\n" + config.error().message);
  const auto post = controlPost(*config, "/drain");
  if (!post.reply.reached)
    return fail(exit_code::kNotRunning,
                "no qmesh-supervisor answers on " + config->node.control.str() + ": nothing to drain");
  if (const std::string refused = post.refusal(); !refused.empty()) return fail(exit_code::kRefused, refused);
  std::cout << "draining (streams in flight have up to " << formatDuration(config->node.drain_timeout) << ")\n"
            << std::flush;
  // node_drain.h's bounds: the workers at drain_timeout, the router's graces after it.
  return waitUntilStopped(*config, config->node.drain_timeout + 3 * config->supervisor.stop_grace +
                                       std::chrono::seconds(10));
}

int runRestart(const fs::path& file, const std::string& child) {
  auto config = loadNodeConfig(file);
  if (!config) return fail(exit_code::kConfig, "config error:\n" + config.error().message);
  const auto post = controlPost(*config, "/children/" + child + "/restart");
  const ControlReply& reply = post.reply;
  if (!reply.reached)
    return fail(exit_code::kNotRunning, "no qmesh-supervisor answers on " + config->node.control.str());
  if (const std::string refused = post.refusal(); !refused.empty()) return fail(exit_code::kRefused, refused);
  if (reply.status == 404) return fail(exit_code::kConfig, "no model or child named '" + child + "'");
  std::cout << "restarting " << child << "\n";
  return exit_code::kOk;
}

int runPull(const fs::path& file, const std::vector<std::string>& names) {
  auto config = loadNodeConfig(file);
  if (!config) return fail(exit_code::kConfig, "config error:\n" + config.error().message);
  initLogging("supervisor", config->node.name, config->node.log_level, config->node.log_format);
  return pullModels(*config, names);
}

int runLoad(const fs::path& file, const std::string& model, bool load) {
  auto config = loadNodeConfig(file);
  if (!config) return fail(exit_code::kConfig, "config error:\n" + config.error().message);
  const auto post = controlPost(*config, "/children/" + model + (load ? "/load" : "/unload"));
  const ControlReply& reply = post.reply;
  if (!reply.reached)
    return fail(exit_code::kNotRunning, "no qmesh-supervisor answers on " + config->node.control.str());
  if (const std::string refused = post.refusal(); !refused.empty()) return fail(exit_code::kRefused, refused);
  const auto body = nlohmann::json::parse(reply.body, nullptr, false);
  const std::string why = body.is_object() && body.contains("error") ? body["error"].value("message", reply.body) : reply.body;
  if (reply.status == 404) return fail(exit_code::kConfig, why);
  if (reply.status != 202) return fail(exit_code::kRuntime, why);
  std::cout << (load ? "loading " : "unloading ") << model << "\n";
  return exit_code::kOk;
}

}  // namespace qmesh
