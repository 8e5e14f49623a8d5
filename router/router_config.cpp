#include "router/router_config.h"

#include <charconv>

#include "router/mesh/member_snapshot.h"

namespace qmesh::router {

RouterConfig fromNodeConfig(const NodeConfig& node) {
  RouterConfig c;
  const RouterSection& r = node.router;
  c.node_name = node.node.name;
  c.listen = r.listen;
  c.control = node.node.control;
  c.api_keys = r.api_keys;
  c.admin_keys = r.admin_keys;
  c.control_token_file = node.node.data_dir / "control.token";  // supervisor/control_token.h
  c.max_body_bytes = r.max_body_bytes;
  c.max_connections = r.max_connections;
  c.queue_depth = r.queue_depth;
  c.queue_timeout = r.queue_timeout;
  c.header_timeout = r.header_timeout;
  c.body_timeout = r.body_timeout;
  c.keepalive_interval = r.keepalive_interval;
  c.stall_timeout = r.stall_timeout;
  c.max_continuations = r.max_continuations;
  c.prefix_affinity = r.prefix_affinity;
  c.shutdown_grace = node.supervisor.stop_grace;
  c.drain_timeout = node.node.drain_timeout;
  c.log_level = node.node.log_level;
  c.log_format = node.node.log_format;
  const MeshSection& m = node.mesh;
  c.mesh.enabled = m.gossip.port != 0;
  c.mesh.gossip = m.gossip;
  c.mesh.advertise = m.advertise;
  c.mesh.data = m.data;
  c.mesh.seeds = m.seeds;
  c.mesh.key_file = m.key_file;
  c.mesh.identity_file = m.identity_file;
  c.mesh.members_file = defaultMemberSnapshotFile(m.identity_file);
  return c;
}

namespace {

bool parseInt(const std::string& text, int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<StaticWorker> parseWorkerSpec(const std::string& spec) {
  const std::string usage = "--worker '" + spec + "': expected MODEL=http://HOST:PORT[,slots=N]";
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) return makeError(usage);
  StaticWorker w;
  w.model = spec.substr(0, eq);
  std::string rest = spec.substr(eq + 1);
  std::string options;
  if (const auto comma = rest.find(','); comma != std::string::npos) {
    options = rest.substr(comma + 1);
    rest = rest.substr(0, comma);
  }
  const std::string scheme = "http://";
  if (rest.rfind(scheme, 0) != 0) return makeError(usage + " (only http:// workers)");
  std::string hostPort = rest.substr(scheme.size());
  if (!hostPort.empty() && hostPort.back() == '/') hostPort.pop_back();
  auto hp = parseHostPort(hostPort);
  if (!hp) return makeError(usage + ": " + hp.error().message);
  if (hp->port == 0) return makeError(usage + ": the port must not be 0");
  w.host = hp->host;
  w.port = hp->port;
  while (!options.empty()) {
    const auto comma = options.find(',');
    const std::string opt = options.substr(0, comma);
    options = comma == std::string::npos ? "" : options.substr(comma + 1);
    if (opt.rfind("slots=", 0) == 0) {
      if (!parseInt(opt.substr(6), w.slots) || w.slots < 1 || w.slots > 4096)
        return makeError(usage + ": slots must be a number from 1 to 4096");
    } else if (opt.rfind("digest=", 0) == 0) {
      w.digest = opt.substr(7);
      if (w.digest.size() != 64 || w.digest.find_first_not_of("0123456789abcdef") != std::string::npos)
        return makeError(usage + ": digest must be the model file's sha256 as 64 lowercase hex digits");
    } else {
      return makeError(usage + ": unknown option '" + opt + "' (known: slots=N, digest=SHA256)");
    }
  }
  return w;
}

}  // namespace qmesh::router
