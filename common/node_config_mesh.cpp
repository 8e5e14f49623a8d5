// The mesh: section of the node config: addresses, seeds, invite token and key/identity
// file paths, with every rule that makes a mesh config unusable reported at parse time.
#include <map>

#include "common/invite.h"
#include "common/node_config_parse.h"

namespace qmesh::config_detail {

namespace fs = std::filesystem;

namespace {

constexpr const char* kEnableHint = "set mesh.gossip to HOST:PORT with a port, e.g. 0.0.0.0:7946";

// A key that only means something in a mesh, given while the mesh is disabled: the user
// meant to join one, so saying nothing would leave them wondering why nothing happens.
void requireEnabled(YamlReader& r, const YAML::Node& n, const MeshSection& m, const char* key) {
  if (m.enabled()) return;
  r.fail(n[key], joinPath("mesh", key),
         std::string("mesh.") + key + " needs mesh.gossip with a port (port 0 disables the mesh): " +
             kEnableHint);
}

void checkAdvertise(YamlReader& r, const YAML::Node& n, const HostPort& a) {
  if (isWildcardHost(a.host))
    r.fail(n["advertise"], "mesh.advertise",
           "'" + a.host + "' is not an address other nodes can dial: give this node's IP address "
           "or DNS name as the other nodes reach it");
  if (a.port == 0)
    r.fail(n["advertise"], "mesh.advertise",
           "needs a port: the one other nodes reach mesh.gossip on (usually mesh.gossip's port)");
}

void defaultOrCheckData(YamlReader& r, const YAML::Node& n, MeshSection& m, bool dataGiven) {
  if (!dataGiven) {
    const auto d = defaultMeshDataAddress(m.gossip);
    if (!d)
      return r.fail(n["gossip"], "mesh.gossip",
                    "port 65535 leaves no room for mesh.data's default (the gossip port + 1): "
                    "set mesh.data, or choose a lower gossip port");
    m.data = *d;
    return;
  }
  if (m.data.port == m.gossip.port)
    r.fail(n["data"], "mesh.data",
           "port " + std::to_string(m.data.port) +
               " is mesh.gossip's port (which takes TCP too, for push-pull): choose another, "
               "or leave mesh.data out for the gossip port + 1");
}

}  // namespace

void parseMesh(YamlReader& r, const YAML::Node& n, const fs::path& base, const NodeSection& node,
               MeshSection& out) {
  out.key_file = node.data_dir / "mesh.keys";
  out.identity_file = node.data_dir / "node.id";
  if (!r.expectMap(n, "mesh", {"gossip", "advertise", "data", "seeds", "join", "key_file",
                               "identity_file"}))
    return;
  const std::size_t errorsBefore = r.errors().size();
  readHostPort(r, n, "mesh", "gossip", out.gossip);
  const bool gossipOk = r.errors().size() == errorsBefore;
  HostPort advertise;
  if (readHostPort(r, n, "mesh", "advertise", advertise)) out.advertise = advertise;
  const bool dataGiven = readHostPort(r, n, "mesh", "data", out.data);

  r.read(n, "mesh", "seeds", out.seeds);
  for (const auto& s : out.seeds)
    if (auto hp = parseHostPort(s); !hp) r.fail(n["seeds"], "mesh.seeds", hp.error().message);
  r.read(n, "mesh", "join", out.join);
  if (!out.join.empty())
    if (auto invite = decodeInvite(out.join); !invite)
      r.fail(n["join"], "mesh.join", "invalid invite token: " + invite.error().message);
  std::string path;
  r.read(n, "mesh", "key_file", path);
  if (!path.empty()) out.key_file = resolveAgainst(base, path);
  path.clear();
  r.read(n, "mesh", "identity_file", path);
  if (!path.empty()) out.identity_file = resolveAgainst(base, path);

  if (!gossipOk) return;  // the rules below would only repeat the gossip error
  if (!out.seeds.empty()) requireEnabled(r, n, out, "seeds");
  if (!out.join.empty()) requireEnabled(r, n, out, "join");
  if (out.advertise) requireEnabled(r, n, out, "advertise");
  if (dataGiven) requireEnabled(r, n, out, "data");
  if (!out.enabled()) return;
  if (out.advertise) checkAdvertise(r, n, *out.advertise);
  defaultOrCheckData(r, n, out, dataGiven);
  if (out.key_file == out.identity_file)
    r.fail(n["identity_file"].IsDefined() ? n["identity_file"] : n["key_file"], "mesh.identity_file",
           "is the same file as mesh.key_file: the node's identity and the mesh keys need a file each");
}

void checkMeshPorts(YamlReader& r, const YAML::Node& root, const NodeConfig& c) {
  if (!c.mesh.enabled()) return;
  // mesh may be a scalar after a reported type error; indexing a scalar throws.
  const YAML::Node mesh = root["mesh"];
  std::map<uint16_t, std::string> taken = {{c.node.control.port, "node.control"}};
  if (c.router.enabled && c.router.listen.port != 0) taken.emplace(c.router.listen.port, "router.listen");
  for (std::size_t i = 0; i < c.models.size(); ++i)
    if (c.models[i].port != 0) taken.emplace(c.models[i].port, "models[" + std::to_string(i) + "].port");
  for (const auto& [key, hp] : {std::pair<const char*, HostPort>{"gossip", c.mesh.gossip},
                                {"data", c.mesh.data}}) {
    if (hp.port == 0) continue;
    const auto it = taken.find(hp.port);
    if (it == taken.end()) continue;
    const YAML::Node at = mesh.IsMap() && mesh[key].IsDefined() ? mesh[key] : mesh;
    r.fail(at, std::string("mesh.") + key,
           "port " + std::to_string(hp.port) + " is already used by " + it->second +
               ": choose another port" +
               (std::string(key) == "data" && !(mesh.IsMap() && mesh["data"].IsDefined())
                    ? " (mesh.data defaults to the gossip port + 1; set it explicitly)"
                    : ""));
  }
}

}  // namespace qmesh::config_detail

namespace qmesh {

std::optional<HostPort> defaultMeshDataAddress(const HostPort& gossip) {
  if (gossip.port == 65535) return std::nullopt;
  return HostPort{gossip.host, static_cast<uint16_t>(gossip.port + 1)};
}

}  // namespace qmesh
