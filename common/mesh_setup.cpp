#include "common/mesh_setup.h"

#include <algorithm>
#include <optional>

#include "common/invite.h"
#include "common/private_file.h"

namespace qmesh {

namespace fs = std::filesystem;

namespace {

constexpr const char* kEnableHint = "set mesh.gossip to HOST:PORT with a port, e.g. 0.0.0.0:7946";

void addSeeds(std::vector<std::string>& out, const std::vector<std::string>& seeds) {
  for (const auto& s : seeds) {
    auto hp = parseHostPort(s);
    const std::string norm = hp ? hp->str() : s;  // both sources were validated already
    if (std::find(out.begin(), out.end(), norm) == out.end()) out.push_back(norm);
  }
}

// Applies an invite's key to the key file (see the header); false when nothing changed.
bool applyInviteKey(MeshKeyFile& file, const MeshKeyBytes& key) {
  const std::string fp = meshKeyLongFingerprint(key);
  auto& applied = file.applied_invites;
  if (std::find(applied.begin(), applied.end(), fp) != applied.end()) return false;
  applied.push_back(fp);
  auto it = std::find(file.keys.begin(), file.keys.end(), key);
  if (it == file.keys.end()) file.keys.insert(file.keys.begin(), key);
  else std::rotate(file.keys.begin(), it, it + 1);
  return true;
}

Result<std::optional<Invite>> chooseInvite(const NodeConfig& c, const std::string& joinToken) {
  const std::string& token = joinToken.empty() ? c.mesh.join : joinToken;
  if (token.empty()) return std::optional<Invite>();
  auto invite = decodeInvite(token);
  if (!invite)
    return makeError((joinToken.empty() ? "mesh.join in " + c.file.string() : std::string("--join")) +
                     ": invalid invite token: " + invite.error().message);
  return std::optional<Invite>(std::move(*invite));
}

}  // namespace

Result<MeshBootstrap> prepareMesh(const NodeConfig& c, const std::string& joinToken) {
  const MeshSection& m = c.mesh;
  if (!m.enabled()) {
    if (!joinToken.empty())
      return makeError("--join needs the mesh enabled, but mesh.gossip has port 0 in " +
                       c.file.string() + ": " + kEnableHint);
    return MeshBootstrap{};
  }
  auto invite = chooseInvite(c, joinToken);
  if (!invite) return invite.error();

  MeshBootstrap b;
  b.enabled = true;
  addSeeds(b.seeds, m.seeds);
  if (*invite) addSeeds(b.seeds, (*invite)->seeds);

  // The router reads the identity; refused here, the node fails at start rather than
  // crash-looping its router.
  if (auto s = requireOwnerOnly(m.identity_file, "node identity file"); !s) return s.error();
  std::error_code ec;
  const bool exists = fs::exists(m.key_file, ec);
  MeshKeyFile file;
  if (exists) {
    auto read = readMeshKeyFile(m.key_file);
    if (!read) return read.error();
    file = std::move(*read);
  }
  bool write = false;
  if (*invite) {
    const auto before = file.keys;
    write = applyInviteKey(file, (*invite)->key);
    b.invite_applied = write && file.keys != before;
  } else if (!exists) {
    if (!b.seeds.empty())
      return makeError("mesh.seeds is set but there is no mesh key at " + m.key_file.string() +
                       ": copy the key file from a node of the mesh, or start with --join <token "
                       "from `qmesh-supervisor invite`>");
    file.keys.push_back(generateMeshKey());
    write = true;
    b.created_key = true;
  }
  if (write)
    if (auto s = writeMeshKeyFile(m.key_file, file); !s) return s.error();
  b.keys = std::move(file.keys);
  return b;
}

Result<HostPort> inviteAddress(const NodeConfig& c) {
  if (c.mesh.advertise) return *c.mesh.advertise;
  if (!isWildcardHost(c.mesh.gossip.host)) return c.mesh.gossip;
  return makeError("mesh.gossip listens on " + c.mesh.gossip.str() +
                   " (every interface), so an invite cannot say where other nodes reach this one: "
                   "set mesh.advertise in " + c.file.string() +
                   " to this node's address as they see it, e.g. 192.168.1.10:" +
                   std::to_string(c.mesh.gossip.port));
}

Result<std::string> createInviteToken(const NodeConfig& c) {
  if (!c.mesh.enabled())
    return makeError("the mesh is disabled (mesh.gossip has port 0 in " + c.file.string() + "): " +
                     kEnableHint + ", start the node, then create the invite");
  auto address = inviteAddress(c);
  if (!address) return address.error();
  std::error_code ec;
  if (!fs::exists(c.mesh.key_file, ec))
    return makeError("no mesh key at " + c.mesh.key_file.string() +
                     ": start the node once (`qmesh-supervisor start --config " + c.file.string() +
                     "` creates the key of a new mesh), or install the mesh's key with "
                     "`qmesh-supervisor keys --config " + c.file.string() + " install KEY`");
  auto keys = readMeshKeys(c.mesh.key_file);
  if (!keys) return keys.error();
  Invite invite;
  invite.key = keys->front();
  addSeeds(invite.seeds, {address->str()});
  addSeeds(invite.seeds, c.mesh.seeds);
  return encodeInvite(invite);
}

}  // namespace qmesh
