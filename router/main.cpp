// qmesh-router: supervised (`--config node.yaml`, workers from the supervisor's control API)
// or static (`--listen ... --worker MODEL=http://HOST:PORT[,slots=N]`, for benchmarks).
// SIGTERM/SIGINT drain (router.h), a second one cuts what is left.
// Exit codes: 0 clean stop, 2 config/usage error, 4 listen address in use.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <utility>
#include <unistd.h>

#include "common/fd_limit.h"
#include "common/logging.h"
#include "common/mesh_setup.h"
#include "common/node_config.h"
#include "router/mesh/member_snapshot.h"
#include "router/router.h"

using namespace qmesh;
using namespace qmesh::router;

namespace {

int usageError(const std::string& message) {
  std::cerr << "qmesh-router: " << message << "\n";
  return 2;
}

// Static mode's mesh: the same settings the YAML's mesh: section gives.
std::optional<std::string> staticMesh(RouterConfig& cfg, const std::string& gossip, const std::string& data,
                                      const std::vector<std::string>& seeds, const std::string& keyFile,
                                      const std::string& identityFile, const std::string& membersFile,
                                      const std::string& join) {
  auto g = parseHostPort(gossip);
  if (!g || g->port == 0) return "--mesh-gossip: expected HOST:PORT with a port";
  cfg.mesh.enabled = true;
  cfg.mesh.gossip = *g;
  if (!data.empty()) {
    auto d = parseHostPort(data);
    if (!d) return "--mesh-data: " + d.error().message;
    if (d->port == g->port) return "--mesh-data: its port is --mesh-gossip's (which takes TCP too): choose another";
    cfg.mesh.data = *d;
  } else if (auto d = defaultMeshDataAddress(*g)) {
    cfg.mesh.data = *d;
  } else {
    return "--mesh-gossip: port 65535 leaves no room for the data plane's default (the gossip port + 1): "
           "set --mesh-data";
  }
  if (keyFile.empty() || identityFile.empty()) return "--mesh-gossip needs --mesh-key-file and --mesh-identity-file";
  NodeConfig node;
  node.node.name = cfg.node_name;
  node.mesh.gossip = cfg.mesh.gossip;
  node.mesh.data = cfg.mesh.data;
  node.mesh.seeds = seeds;
  node.mesh.key_file = keyFile;
  node.mesh.identity_file = identityFile;
  auto mesh = prepareMesh(node, join);
  if (!mesh) return mesh.error().message;
  cfg.mesh.keys = mesh->keys;
  cfg.mesh.seeds = mesh->seeds;
  cfg.mesh.key_file = keyFile;
  cfg.mesh.identity_file = identityFile;
  cfg.mesh.members_file = membersFile.empty() ? defaultMemberSnapshotFile(identityFile)
                                              : std::filesystem::path(membersFile);
  return std::nullopt;
}

std::string hostName() {
  char buf[256] = {};
  return gethostname(buf, sizeof buf - 1) == 0 && buf[0] ? buf : "node";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qmesh-router: the OpenAI-compatible front of a qmesh node"};
  std::string configFile, listen, control, nodeName, logLevel = "info", join;
  std::string meshGossip, meshData, meshKeyFile, meshIdentityFile, meshMembersFile;
  std::vector<std::string> meshSeeds;
  std::vector<std::string> workers, apiKeys;
  bool version = false;
  int64_t headerTimeoutMs = 0;
  int64_t stallTimeoutMs = 0;
  int64_t maxContinuations = -1;
  bool noPrefixAffinity = false;
  int64_t drainTimeoutMs = -1;
  app.add_option("--config", configFile, "node YAML (supervised mode: reads node: and router:)");
  app.add_option("--listen", listen, "static mode: HOST:PORT to serve on (default 127.0.0.1:8080)");
  app.add_option("--worker", workers, "static mode: MODEL=http://HOST:PORT[,slots=N], repeatable");
  app.add_option("--control", control, "static mode: follow a supervisor's control API at HOST:PORT instead");
  app.add_option("--node", nodeName, "node name in headers and logs (default: the host name)");
  app.add_option("--api-key", apiKeys, "static mode: accepted API key, repeatable (default: none required)");
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error");
  app.add_option("--mesh-gossip", meshGossip, "static mode: gossip on HOST:PORT (UDP + TCP) and join a mesh");
  app.add_option("--mesh-data", meshData, "static mode: data-plane listener HOST:PORT (default: gossip port + 1)");
  app.add_option("--mesh-seed", meshSeeds, "static mode: a mesh member's gossip HOST:PORT, repeatable");
  app.add_option("--mesh-key-file", meshKeyFile, "static mode: mesh key file (created with a new key if absent and no seeds)");
  app.add_option("--mesh-identity-file", meshIdentityFile, "static mode: this node's identity file (created if absent)");
  app.add_option("--mesh-members-file", meshMembersFile,
                 "static mode: where this node remembers the members it saw alive, to rejoin them at its "
                 "next start (default: mesh.members beside the identity file)");
  app.add_option("--header-timeout", headerTimeoutMs,
                 "static mode: router.header_timeout in ms (client headers, idle keep-alive, and how long a "
                 "silent mesh peer may hold a request; default 10000)")
      ->check(CLI::Range(int64_t{100}, int64_t{3600000}));
  app.add_option("--stall-timeout", stallTimeoutMs,
                 "static mode: router.stall_timeout in ms (a stream whose worker sends nothing this long is "
                 "continued on another worker; default 30000)")
      ->check(CLI::Range(int64_t{100}, int64_t{3600000}));
  app.add_option("--max-continuations", maxContinuations,
                 "static mode: router.max_continuations (times one stream may move to another worker; default 2)")
      ->check(CLI::Range(int64_t{0}, int64_t{100}));
  app.add_flag("--no-prefix-affinity", noPrefixAffinity,
               "static mode: router.prefix_affinity false (every request placed by load alone)");
  app.add_option("--drain-timeout", drainTimeoutMs,
                 "static mode: node.drain_timeout in ms (on SIGTERM, how long streams in flight may finish "
                 "before the router stops, with the shutdown grace after it; default 20000)")
      ->check(CLI::Range(int64_t{0}, int64_t{3600000}));
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (version) {
    std::cout << "qmesh-router " << QMESH_VERSION << "\n";
    return 0;
  }
  // An invite token holds the mesh key, so it is taken from the environment only (the
  // supervisor sets it for this child alone), never from argv, which `ps` shows everyone.
  if (const char* token = std::getenv("QMESH_JOIN")) join = token;

  RouterConfig cfg;
  if (!configFile.empty()) {
    if (!workers.empty() || !listen.empty() || !control.empty() || !apiKeys.empty() || headerTimeoutMs != 0 ||
        stallTimeoutMs != 0 || maxContinuations >= 0 || noPrefixAffinity || drainTimeoutMs >= 0)
      return usageError("--config cannot be combined with --listen/--worker/--control/--api-key/--header-timeout/"
                        "--stall-timeout/--max-continuations/--no-prefix-affinity/--drain-timeout; put those in the "
                        "router: (or node:) section of the YAML");
    auto node = loadNodeConfig(configFile);
    if (!node) return usageError(node.error().message);
    cfg = fromNodeConfig(*node);
    if (!nodeName.empty()) cfg.node_name = nodeName;
    auto mesh = prepareMesh(*node, join);
    if (!mesh) return usageError(mesh.error().message);
    cfg.mesh.keys = mesh->keys;
    cfg.mesh.seeds = mesh->seeds;
    // The console's "create invite": the key file is the truth after rotations, read then.
    if (cfg.mesh.enabled) cfg.make_invite = [n = *node] { return createInviteToken(n); };
  } else {
    if (workers.empty() && control.empty())
      return usageError("nothing to route to: give --config node.yaml, or --worker MODEL=http://HOST:PORT "
                        "(repeatable), or --control HOST:PORT");
    cfg.node_name = nodeName.empty() ? hostName() : nodeName;
    cfg.log_level = logLevel;
    cfg.api_keys = apiKeys;
    if (headerTimeoutMs != 0) cfg.header_timeout = std::chrono::milliseconds(headerTimeoutMs);
    if (stallTimeoutMs != 0) cfg.stall_timeout = std::chrono::milliseconds(stallTimeoutMs);
    if (maxContinuations >= 0) cfg.max_continuations = maxContinuations;
    cfg.prefix_affinity = !noPrefixAffinity;
    if (drainTimeoutMs >= 0) cfg.drain_timeout = std::chrono::milliseconds(drainTimeoutMs);
    if (!listen.empty()) {
      auto hp = parseListenAddress(listen);
      if (!hp) return usageError("--listen: " + hp.error().message);
      cfg.listen = *hp;
    }
    if (!control.empty()) {
      auto hp = parseHostPort(control);
      if (!hp) return usageError("--control: " + hp.error().message);
      cfg.control = *hp;
    }
    for (const auto& spec : workers) {
      auto w = parseWorkerSpec(spec);
      if (!w) return usageError(w.error().message);
      cfg.static_workers.push_back(*w);
    }
    if (!meshGossip.empty()) {
      if (auto err = staticMesh(cfg, meshGossip, meshData, meshSeeds, meshKeyFile, meshIdentityFile,
                                meshMembersFile, join))
        return usageError(*err);
    }
  }
  initLogging("router", cfg.node_name, cfg.log_level, cfg.log_format);
  raiseFdLimitAndLog("router");  // every client, upstream and channel holds a descriptor

  // A client vanishing mid-write must be an error code on that socket, not a dead process.
  std::signal(SIGPIPE, SIG_IGN);
  qmesh::SteadyClock clock;  // the router's only real clock; outlives io and the router
  net::io_context io(1);
  net::signal_set hup(io, SIGHUP);  // registered early: an unhandled SIGHUP would end the process
  Router router(io, cfg, clock);
  bool signalled = false;
  if (auto err = router.start()) {
    spdlog::error("{}", err->message);
    std::cerr << "qmesh-router: " << err->message << "\n";
    return err->exit_code;
  }
  // The first SIGTERM/SIGINT drains (router.h), a second one cuts what is left.
  net::signal_set signals(io, SIGINT, SIGTERM);
  router.setOnStopping([&] {
    hup.cancel();  // nothing may keep io.run() from returning once the rest is closed
    signals.cancel();
  });
  std::function<void()> waitSignal = [&] {
    signals.async_wait([&](error_code ec, int sig) {
      if (ec) return;
      spdlog::info("received signal {}", sig);
      if (std::exchange(signalled, true)) return router.shutdownNow();
      router.drain();
      waitSignal();
    });
  };
  waitSignal();
  // SIGHUP re-reads the mesh key file (`qmesh-supervisor keys ...` sends it through the
  // supervisor), as often as it comes.
  std::function<void()> waitHup = [&] {
    hup.async_wait([&](error_code ec, int) {
      if (ec) return;
      router.reloadMeshKeys();
      waitHup();
    });
  };
  waitHup();
  io.run();
  spdlog::info("router stopped");
  return 0;
}
