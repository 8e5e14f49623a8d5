#include "common/node_config.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "common/install_paths.h"
#include "common/names.h"
#include "common/node_config_parse.h"
#include "common/yaml_util.h"

namespace qmesh {

namespace fs = std::filesystem;
using std::chrono::hours;

namespace config_detail {

fs::path resolveAgainst(const fs::path& base, const std::string& p) {
  if (p.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return fs::path(home ? home : "/") / p.substr(2);
  }
  const fs::path path(p);
  return (path.is_absolute() ? path : base / path).lexically_normal();
}

bool readHostPort(YamlReader& r, const YAML::Node& map, const std::string& path, const char* key,
                  HostPort& out, bool listen) {
  std::string text;
  r.read(map, path, key, text);
  if (text.empty()) return false;
  auto hp = listen ? parseListenAddress(text) : parseHostPort(text);
  if (!hp) {
    r.fail(map[key], joinPath(path, key), hp.error().message);
    return false;
  }
  out = *hp;
  return true;
}

}  // namespace config_detail

namespace {

using config_detail::readHostPort;
using config_detail::resolveAgainst;

std::string defaultNodeName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) == 0 && buf[0]) return buf;
  return "node";
}

// Empty when there is nothing to derive it from. Never a /tmp fallback: the data dir holds
// the mesh key, the node identity and the control token, and /tmp is shared with every user
// (who could create the folder first) and emptied at boot (a new identity at each reboot).
fs::path defaultDataDir(const std::string& nodeName) {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg)
    return fs::path(xdg) / "qmesh" / nodeName;
  if (const char* home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".local" / "state" / "qmesh" / nodeName;
  return {};
}

void requireDataDir(YamlReader& r, const YAML::Node& n, const NodeSection& out) {
  if (out.data_dir.empty())
    r.fail(n, "node.data_dir",
           "not set, and neither $XDG_STATE_HOME nor $HOME is set to derive it from: set "
           "node.data_dir to a folder only this user can write (it holds the node's keys)");
}

// Arguments qmesh sets itself; a duplicate in extra_args would silently fight ours.
const std::set<std::string>& managedArgs() {
  static const std::set<std::string> args = {
      "-m", "--model", "--host", "--port", "-a", "--alias", "-c", "--ctx-size", "-np",
      "--parallel", "-t", "--threads", "-ngl", "--gpu-layers", "--n-gpu-layers", "--embedding",
      "--embeddings"};
  return args;
}

void parseNode(YamlReader& r, const YAML::Node& n, const fs::path& base, NodeSection& out) {
  r.expectMap(n, "node", {"name", "data_dir", "control", "log_level", "log_format", "llama_server", "memory_budget",
                          "drain_timeout"});
  if (!n.IsMap()) {
    out.name = defaultNodeName();
    out.data_dir = defaultDataDir(out.name);
    requireDataDir(r, n, out);
    return;
  }
  r.read(n, "node", "name", out.name);
  if (out.name.empty()) out.name = defaultNodeName();
  if (!isValidName(out.name))
    r.fail(n["name"], "node.name", "'" + out.name + "' is not a valid name (letters, digits, . _ : / -)");
  std::string dataDir, binary;
  r.read(n, "node", "data_dir", dataDir);
  out.data_dir = dataDir.empty() ? defaultDataDir(out.name) : resolveAgainst(base, dataDir);
  requireDataDir(r, n, out);
  readHostPort(r, n, "node", "control", out.control);
  if (!isLoopbackHost(out.control.host))
    r.fail(n["control"], "node.control",
           "the control API must listen on a loopback address (127.0.0.1 or ::1), got " +
               out.control.host);
  r.read(n, "node", "log_level", out.log_level);
  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error"};
  if (!levels.count(out.log_level))
    r.fail(n["log_level"], "node.log_level", "'" + out.log_level + "' is not one of trace, debug, info, warn, error");
  r.read(n, "node", "log_format", out.log_format);
  if (out.log_format != "text" && out.log_format != "json")
    r.fail(n["log_format"], "node.log_format", "'" + out.log_format + "' is not text or json");
  r.read(n, "node", "llama_server", binary);
  if (!binary.empty()) out.llama_server = resolveAgainst(base, binary);
  std::string budget;
  r.read(n, "node", "memory_budget", budget);
  if (auto b = parseMemoryBudget(budget); !budget.empty() && !b)
    r.fail(n["memory_budget"], "node.memory_budget", b.error().message);
  else if (!budget.empty()) out.memory_budget = *b;
  r.read(n, "node", "drain_timeout", out.drain_timeout, Millis(0), hours(1));
}

void parseSupervisor(YamlReader& r, const YAML::Node& n, SupervisorSection& out) {
  if (!r.expectMap(n, "supervisor", {"health", "restart", "stop_grace"})) return;
  r.read(n, "supervisor", "stop_grace", out.stop_grace, Millis(0), hours(1));
  const YAML::Node h = n["health"];
  if (r.expectMap(h, "supervisor.health", {"interval", "timeout", "failure_threshold", "startup_timeout"})) {
    const std::string p = "supervisor.health";
    r.read(h, p, "interval", out.health.interval, Millis(50), hours(1));
    r.read(h, p, "timeout", out.health.timeout, Millis(50), hours(1));
    r.read(h, p, "failure_threshold", out.health.failure_threshold, 1, 1000);
    r.read(h, p, "startup_timeout", out.health.startup_timeout, Millis(1000), hours(24));
  }
  const YAML::Node rs = n["restart"];
  if (r.expectMap(rs, "supervisor.restart",
                  {"backoff_initial", "backoff_max", "backoff_multiplier", "jitter", "max_restarts", "window"})) {
    const std::string p = "supervisor.restart";
    r.read(rs, p, "backoff_initial", out.restart.backoff_initial, Millis(0), hours(1));
    r.read(rs, p, "backoff_max", out.restart.backoff_max, Millis(0), hours(24));
    r.read(rs, p, "backoff_multiplier", out.restart.backoff_multiplier, 1.0, 100.0);
    r.read(rs, p, "jitter", out.restart.jitter, 0.0, 1.0);
    r.read(rs, p, "max_restarts", out.restart.max_restarts, 0, 1000000);
    r.read(rs, p, "window", out.restart.window, Millis(1000), hours(24 * 7));
    if (out.restart.backoff_max < out.restart.backoff_initial)
      r.fail(rs["backoff_max"], "supervisor.restart.backoff_max",
             "must not be smaller than backoff_initial (" + formatDuration(out.restart.backoff_initial) + ")");
  }
}

void parseModel(YamlReader& r, const YAML::Node& m, const std::string& path, const fs::path& base,
                const fs::path& dataDir, ModelConfig& out) {
  if (!r.expectMap(m, path, {"name", "gguf", "ctx_size", "parallel", "threads", "gpu_layers", "port",
                             "embeddings", "extra_args", "replicas", "sha256", "load", "idle_unload"})) {
    if (!m.IsDefined() || m.IsNull()) r.fail(m, path, "empty model entry: give it at least name and gguf");
    return;
  }
  r.read(m, path, "name", out.name);
  if (out.name.empty()) r.fail(m, path, "missing 'name' (the model name clients send)");
  else if (!isValidName(out.name))
    r.fail(m["name"], joinPath(path, "name"), "'" + out.name + "' is not a valid model name (letters, digits, . _ : / -)");
  config_detail::parseModelSource(r, m, path, base, dataDir, out);
  r.read(m, path, "ctx_size", out.ctx_size, 0, 1 << 24);
  r.read(m, path, "parallel", out.parallel, 1, 256);
  r.read(m, path, "threads", out.threads, 0, 1024);
  r.read(m, path, "gpu_layers", out.gpu_layers, -1, 100000);
  int64_t port = 0;
  r.read(m, path, "port", port, 0, 65535);
  out.port = static_cast<uint16_t>(port);
  r.read(m, path, "embeddings", out.embeddings);
  r.read(m, path, "replicas", out.replicas, 1, 64);
  if (out.replicas > 1 && out.port != 0)
    r.fail(m["port"], joinPath(path, "port"),
           "must be 0 (a free port for each) when replicas is " + std::to_string(out.replicas) +
               ": one port cannot serve several llama-servers");
  r.read(m, path, "extra_args", out.extra_args);
  std::string load = "always";
  r.read(m, path, "load", load);
  if (load != "always" && load != "on_demand")
    r.fail(m["load"], joinPath(path, "load"), "'" + load + "' is not always or on_demand");
  out.on_demand = load == "on_demand";
  r.read(m, path, "idle_unload", out.idle_unload, Millis(0), hours(24 * 7));
  for (const auto& a : out.extra_args) {
    const std::string flag = a.substr(0, a.find('='));
    if (managedArgs().count(flag))
      r.fail(m["extra_args"], joinPath(path, "extra_args"),
             "'" + flag + "' is set by qmesh from the model's own keys; use those instead");
  }
}

void parseRouter(YamlReader& r, const YAML::Node& n, RouterSection& out) {
  if (!r.expectMap(n, "router", {"enabled", "listen", "api_keys", "admin_keys", "max_body_bytes", "max_connections",
                                 "queue_depth", "queue_timeout", "header_timeout", "body_timeout",
                                 "keepalive_interval", "stall_timeout", "max_continuations", "prefix_affinity"}))
    return;
  const std::string p = "router";
  r.read(n, p, "enabled", out.enabled);
  readHostPort(r, n, p, "listen", out.listen, /*listen=*/true);
  r.read(n, p, "api_keys", out.api_keys);
  for (const auto& k : out.api_keys)
    if (k.size() < 8) r.fail(n["api_keys"], "router.api_keys", "every key needs at least 8 characters");
  r.read(n, p, "admin_keys", out.admin_keys);
  for (const auto& k : out.admin_keys) {
    if (k.size() < 8) r.fail(n["admin_keys"], "router.admin_keys", "every key needs at least 8 characters");
    if (std::find(out.api_keys.begin(), out.api_keys.end(), k) != out.api_keys.end())
      r.fail(n["admin_keys"], "router.admin_keys", "a key is both an admin key and an API key; give admins their own");
  }
  r.read(n, p, "max_body_bytes", out.max_body_bytes, 1024, int64_t(1) << 32);
  r.read(n, p, "max_connections", out.max_connections, 1, 1000000);
  r.read(n, p, "queue_depth", out.queue_depth, 0, 1000000);
  r.read(n, p, "queue_timeout", out.queue_timeout, Millis(0), hours(1));
  r.read(n, p, "header_timeout", out.header_timeout, Millis(100), hours(1));
  r.read(n, p, "body_timeout", out.body_timeout, Millis(100), hours(1));
  r.read(n, p, "keepalive_interval", out.keepalive_interval, Millis(100), hours(1));
  r.read(n, p, "stall_timeout", out.stall_timeout, Millis(100), hours(1));
  r.read(n, p, "max_continuations", out.max_continuations, 0, 100);
  r.read(n, p, "prefix_affinity", out.prefix_affinity);
}

// Rules that span sections: names and ports must not collide.
void crossCheck(YamlReader& r, const YAML::Node& root, NodeConfig& c) {
  std::set<std::string> names;
  std::set<uint16_t> ports = {c.node.control.port};
  if (c.router.enabled) {
    // router may be a scalar after a reported type error; indexing a scalar throws.
    const YAML::Node router = root["router"];
    if (c.router.listen.port != 0 && c.router.listen.port == c.node.control.port)
      r.fail(router.IsMap() ? router["listen"] : router, "router.listen",
             "uses the same port as node.control (" + std::to_string(c.node.control.port) + ")");
    ports.insert(c.router.listen.port);
  }
  for (std::size_t i = 0; i < c.models.size(); ++i) {
    const auto& m = c.models[i];
    const std::string path = "models[" + std::to_string(i) + "]";
    if (!m.name.empty() && !names.insert(m.name).second)
      r.fail(root["models"][i]["name"], path + ".name", "model name '" + m.name + "' is used twice");
    // Only the router knows whether requests are in flight or queued for a model.
    if (m.idle_unload.count() > 0 && !c.router.enabled)
      r.fail(root["models"][i]["idle_unload"], path + ".idle_unload",
             "needs router.enabled: true (the router keeps the idle clock); remove it, or enable the router");
    if (m.port != 0 && !ports.insert(m.port).second)
      r.fail(root["models"][i]["port"], path + ".port",
             "port " + std::to_string(m.port) + " is already used by another model, the router or the control API");
  }
  config_detail::checkMeshPorts(r, root, c);
}

}  // namespace

std::string replicaName(const std::string& model, int64_t index) {
  return index == 0 ? model : model + "#" + std::to_string(index + 1);
}

Result<NodeConfig> parseNodeConfig(const std::string& yaml, const fs::path& file) {
  YamlReader r(file.string());
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return makeError(file.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                     std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
  if (!root.IsMap()) return makeError(file.string() + ": expected a mapping with node:, models:, router: and mesh: sections");
  NodeConfig c;
  c.file = fs::absolute(file).lexically_normal();
  const fs::path base = c.file.parent_path();
  r.expectMap(root, "", {"node", "supervisor", "models", "router", "mesh"});
  parseNode(r, root["node"], base, c.node);
  parseSupervisor(r, root["supervisor"], c.supervisor);
  const YAML::Node models = root["models"];
  if (models.IsDefined() && !models.IsNull() && !models.IsSequence()) {
    r.fail(models, "models", "expected a list of models (each starting with '- name:')");
  } else if (models.IsSequence()) {
    c.models.resize(models.size());
    for (std::size_t i = 0; i < models.size(); ++i)
      parseModel(r, models[i], "models[" + std::to_string(i) + "]", base, c.node.data_dir, c.models[i]);
  }
  parseRouter(r, root["router"], c.router);
  config_detail::parseMesh(r, root["mesh"], base, c.node, c.mesh);
  crossCheck(r, root, c);
  if (!r.ok()) {
    std::string all;
    for (const auto& e : r.errors()) all += (all.empty() ? "" : "\n") + e;
    return makeError(all);
  }
  return c;
}

Result<NodeConfig> loadNodeConfig(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return makeError(file.string() + ": config file not found");
  if (fs::is_directory(file, ec)) return makeError(file.string() + ": is a directory, expected a YAML file");
  std::ifstream in(file);
  if (!in) return makeError(file.string() + ": cannot read the config file");
  std::ostringstream text;
  text << in.rdbuf();
  return parseNodeConfig(text.str(), file);
}

}  // namespace qmesh
