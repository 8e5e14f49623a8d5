// The mesh: section (common/node_config_mesh.cpp): defaults derived from other keys, and
// every rule that makes a mesh config unusable, reported with file:line and key path.
#include <gtest/gtest.h>

#include "common/invite.h"
#include "common/node_config.h"
#include "tests/common/config_test_util.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;
using test::Contains;
using test::yaml;

constexpr const char* kMeshConfigFile = "/cfg/node.yaml";

NodeConfig parseOk(const std::string& text) {
  auto r = parseNodeConfig(text, kMeshConfigFile);
  if (!r) ADD_FAILURE() << "unexpected error:\n" << r.error().message;
  return r ? *r : NodeConfig{};
}

std::string parseError(const std::string& text) {
  auto r = parseNodeConfig(text, kMeshConfigFile);
  if (r) {
    ADD_FAILURE() << "expected an error, the config was accepted:\n" << text;
    return "";
  }
  return r.error().message;
}

// node: with a fixed data_dir, then the given mesh: lines.
std::string meshYaml(std::initializer_list<std::string> meshLines) {
  std::string out = yaml({"node:", "  data_dir: /var/lib/q", "mesh:"});
  for (const auto& l : meshLines) out += "  " + l + "\n";
  return out;  // mesh keys start on line 4
}

TEST(MeshConfigTest, KeyAndIdentityFilesDefaultIntoTheDataDir) {
  const NodeConfig c = parseOk(meshYaml({"gossip: 0.0.0.0:7946"}));
  EXPECT_EQ(c.mesh.key_file, fs::path("/var/lib/q/mesh.keys"));
  EXPECT_EQ(c.mesh.identity_file, fs::path("/var/lib/q/node.id"));
}

TEST(MeshConfigTest, DataDefaultsToTheGossipHostAndTheNextPort) {
  const NodeConfig c = parseOk(meshYaml({"gossip: 10.1.2.3:7946"}));
  EXPECT_TRUE(c.mesh.enabled());
  EXPECT_EQ(c.mesh.data.str(), "10.1.2.3:7947");
  EXPECT_FALSE(c.mesh.advertise);
}

TEST(MeshConfigTest, ExplicitDataIsKeptAndPortZeroMeansEphemeral) {
  EXPECT_EQ(parseOk(meshYaml({"gossip: 0.0.0.0:7946", "data: 0.0.0.0:9000"})).mesh.data.str(),
            "0.0.0.0:9000");
  EXPECT_EQ(parseOk(meshYaml({"gossip: 0.0.0.0:7946", "data: 127.0.0.1:0"})).mesh.data.str(),
            "127.0.0.1:0");
}

TEST(MeshConfigTest, DisabledMeshIsTheDefaultAndNeedsNothing) {
  const NodeConfig c = parseOk("{}\n");
  EXPECT_FALSE(c.mesh.enabled());
  EXPECT_EQ(c.mesh.data.port, 0);
}

TEST(MeshConfigTest, SeedsWithoutAGossipPortAreAnError) {
  EXPECT_EQ(parseError(meshYaml({"seeds: [10.0.0.2:7946]"})),
            "/cfg/node.yaml:4: mesh.seeds: mesh.seeds needs mesh.gossip with a port (port 0 "
            "disables the mesh): set mesh.gossip to HOST:PORT with a port, e.g. 0.0.0.0:7946");
}

TEST(MeshConfigTest, JoinAdvertiseAndDataWithoutAGossipPortAreErrors) {
  const std::string token = *encodeInvite(Invite{});
  const std::string err = parseError(meshYaml(
      {"gossip: 0.0.0.0:0", "join: " + token, "advertise: 10.0.0.1:7946", "data: 0.0.0.0:7947"}));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:5: mesh.join: mesh.join needs mesh.gossip with a port"));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:6: mesh.advertise: mesh.advertise needs mesh.gossip"));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:7: mesh.data: mesh.data needs mesh.gossip"));
}

TEST(MeshConfigTest, DataOnTheGossipPortIsAnError) {
  EXPECT_TRUE(Contains(parseError(meshYaml({"gossip: 0.0.0.0:7946", "data: 10.0.0.1:7946"})),
                       "/cfg/node.yaml:5: mesh.data: port 7946 is mesh.gossip's port"));
}

TEST(MeshConfigTest, GossipOnTheLastPortNeedsAnExplicitData) {
  EXPECT_TRUE(Contains(parseError(meshYaml({"gossip: 0.0.0.0:65535"})),
                       "/cfg/node.yaml:4: mesh.gossip: port 65535 leaves no room for mesh.data"));
  EXPECT_EQ(parseOk(meshYaml({"gossip: 0.0.0.0:65535", "data: 0.0.0.0:65534"})).mesh.data.port, 65534);
}

TEST(MeshConfigTest, AdvertiseMustBeADialableAddressWithAPort) {
  EXPECT_TRUE(Contains(parseError(meshYaml({"gossip: 0.0.0.0:7946", "advertise: 0.0.0.0:7946"})),
                       "/cfg/node.yaml:5: mesh.advertise: '0.0.0.0' is not an address other "
                       "nodes can dial"));
  EXPECT_TRUE(Contains(parseError(meshYaml({"gossip: 0.0.0.0:7946", "advertise: '[::]:7946'"})),
                       "mesh.advertise: '::' is not an address"));
  EXPECT_TRUE(Contains(parseError(meshYaml({"gossip: 0.0.0.0:7946", "advertise: node-a.lan:0"})),
                       "/cfg/node.yaml:5: mesh.advertise: needs a port"));
  EXPECT_EQ(parseOk(meshYaml({"gossip: 0.0.0.0:7946", "advertise: node-a.lan:7946"}))
                .mesh.advertise->str(),
            "node-a.lan:7946");
}

TEST(MeshConfigTest, BadJoinTokenIsReportedAtParseTimeWithTheReason) {
  Invite invite;
  invite.seeds = {"10.0.0.1:7946"};
  std::string token = *encodeInvite(invite);
  token[20] = token[20] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(Contains(parseError(meshYaml({"gossip: 0.0.0.0:7946", "join: " + token})),
                       "/cfg/node.yaml:5: mesh.join: invalid invite token: bad checksum: the "
                       "token was mistyped or truncated"));
  EXPECT_TRUE(Contains(parseError(meshYaml({"gossip: 0.0.0.0:7946", "join: hello"})),
                       "mesh.join: invalid invite token: not a qmesh invite token"));
}

TEST(MeshConfigTest, ValidJoinTokenIsKeptAsWritten) {
  const std::string token = *encodeInvite(Invite{});
  EXPECT_EQ(parseOk(meshYaml({"gossip: 0.0.0.0:7946", "join: " + token})).mesh.join, token);
}

TEST(MeshConfigTest, MeshPortsMustNotCollideWithTheNodesOtherPorts) {
  const std::string err = parseError(yaml({
      "node:",
      "  control: 127.0.0.1:7947",
      "router:",
      "  listen: 127.0.0.1:7946",
      "mesh:",
      "  gossip: 0.0.0.0:7946",
  }));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:6: mesh.gossip: port 7946 is already used by router.listen"));
  EXPECT_TRUE(Contains(err, "mesh.data: port 7947 is already used by node.control: choose another "
                            "port (mesh.data defaults to the gossip port + 1; set it explicitly)"));
}

TEST(MeshConfigTest, KeyFileAndIdentityFileMustDiffer) {
  EXPECT_TRUE(Contains(parseError(meshYaml({"gossip: 0.0.0.0:7946", "key_file: /k",
                                            "identity_file: /k"})),
                       "/cfg/node.yaml:6: mesh.identity_file: is the same file as mesh.key_file"));
}

TEST(MeshConfigTest, UnknownMeshKeyNamesTheKnownOnes) {
  EXPECT_TRUE(Contains(parseError(meshYaml({"gosip: 0.0.0.0:7946"})),
                       "/cfg/node.yaml:4: mesh: unknown key 'gosip' (known keys: gossip, advertise, "
                       "data, seeds, join, key_file, identity_file)"));
}

}  // namespace
}  // namespace qmesh
