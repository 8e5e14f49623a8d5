// The mesh commands of the real qmesh-supervisor binary: invite, keys, and start's mesh
// preparation (--join, new mesh, errors). None needs llama-server: the nodes here have no
// models and no router, so `start` runs only the control API.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "common/invite.h"
#include "tests/integration/node_fixture.h"
#include "tests/support/http_client.h"

namespace qmesh::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A node with the mesh enabled on loopback; `mesh` adds raw lines under mesh:.
struct MeshNode {
  TempDir dir;
  uint16_t control = freeLoopbackPort();
  uint16_t gossip = freeLoopbackPort();
  fs::path config;
  fs::path keyFile() const { return dir / "data" / "mesh.keys"; }

  explicit MeshNode(const std::string& mesh = "", const std::string& gossipHost = "127.0.0.1") {
    std::ostringstream y;
    y << "node:\n  name: mesh-cli\n  data_dir: " << (dir / "data").string()
      << "\n  control: 127.0.0.1:" << control << "\nrouter:\n  enabled: false\nmesh:\n  gossip: "
      << gossipHost << ":" << gossip << "\n  data: 127.0.0.1:0\n" << mesh;
    config = dir.write("node.yaml", y.str());
  }
  CommandResult keys(std::vector<std::string> args) const {
    args.insert(args.begin(), {"keys", "--config", config.string()});
    return runSupervisor(std::move(args));
  }
  std::unique_ptr<TestProcess> start(std::vector<std::string> extra = {},
                                     std::map<std::string, std::string> env = {}) const {
    std::vector<std::string> argv = {supervisorBinary().string(), "start", "--config", config.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<TestProcess>(argv, dir / "supervisor.log", std::move(env));
  }
  bool waitUntilServing() const {
    return waitUntil([&] {
      return httpGet("http://127.0.0.1:" + std::to_string(control) + "/status", 1s).status == 200;
    }, 30s);
  }
};

std::string generateKey() { return trimmed(runSupervisor({"keys", "generate"}).output); }

TEST(MeshCli, KeysGeneratePrintsANewKeyEachTimeWithoutAConfig) {
  const std::string a = generateKey(), b = generateKey();
  EXPECT_TRUE(decodeMeshKey(a)) << a;
  EXPECT_EQ(a.size(), 44u);
  EXPECT_NE(a, b);
}

TEST(MeshCli, KeysOtherThanGenerateNeedAConfig) {
  const auto r = runSupervisor({"keys", "list"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "keys needs --config node.yaml")) << r.output;
}

TEST(MeshCli, RotationWithTheKeysCommandsOnAStoppedNode) {
  MeshNode n;
  const std::string k1 = generateKey(), k2 = generateKey();
  const std::string fp1 = meshKeyFingerprint(*decodeMeshKey(k1));
  const std::string fp2 = meshKeyFingerprint(*decodeMeshKey(k2));

  auto r = n.keys({"list"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "no mesh key file at " + n.keyFile().string())) << r.output;

  r = n.keys({"install", k1});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "installed key " + fp1)) << r.output;
  EXPECT_TRUE(has(r.output, "the node is not running")) << r.output;
  struct stat st {};
  ASSERT_EQ(::stat(n.keyFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // From stdin ("-"), so the key never shows in ps; a second install is a no-op.
  r = runCommand({"/bin/sh", "-c", "echo " + k2 + " | " + supervisorBinary().string() +
                                       " keys --config " + n.config.string() + " install -"}, 30s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = n.keys({"install", k2});
  EXPECT_TRUE(has(r.output, "is already installed")) << r.output;

  r = n.keys({"list"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(has(r.output, fp1 + "  primary")) << r.output;
  EXPECT_TRUE(has(r.output, fp2 + "  opens only")) << r.output;
  EXPECT_FALSE(has(r.output, k1) || has(r.output, k2)) << "list printed a key";

  EXPECT_EQ(n.keys({"use", fp2}).exit_code, 0) << "use accepts the fingerprint list shows";
  r = n.keys({"remove", k2});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "is the primary (this node seals with it): switch with `keys use` first"));
  r = n.keys({"remove", generateKey()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "is not installed")) << r.output;
  r = n.keys({"remove", fp1});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(*readMeshKeys(n.keyFile()), std::vector<MeshKeyBytes>{*decodeMeshKey(k2)});
}

TEST(MeshCli, InvitePrintsOneLineCarryingThePrimaryKeyAndWhereToReachTheMesh) {
  MeshNode n("  advertise: 192.0.2.10:7946\n  seeds: [192.0.2.11:7946]\n", "0.0.0.0");
  const std::string key = generateKey();
  ASSERT_EQ(n.keys({"install", key}).exit_code, 0);
  const auto r = runSupervisor({"invite", "--config", n.config.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  const auto invite = decodeInvite(trimmed(r.output));
  ASSERT_TRUE(invite) << invite.error().message;
  EXPECT_EQ(invite->key, *decodeMeshKey(key));
  EXPECT_EQ(invite->seeds, (std::vector<std::string>{"192.0.2.10:7946", "192.0.2.11:7946"}));
}

TEST(MeshCli, InviteErrorsSayWhatToDo) {
  MeshNode fresh;
  auto r = runSupervisor({"invite", "--config", fresh.config.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "no mesh key at " + fresh.keyFile().string() + ": start the node once"))
      << r.output;

  MeshNode wildcard("", "0.0.0.0");
  ASSERT_EQ(wildcard.keys({"install", generateKey()}).exit_code, 0);
  r = runSupervisor({"invite", "--config", wildcard.config.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "set mesh.advertise")) << r.output;

  TempDir dir;
  const auto off = dir.write("off.yaml", "node:\n  data_dir: " + (dir / "d").string() + "\n");
  r = runSupervisor({"invite", "--config", off.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "the mesh is disabled")) << r.output;
}

TEST(MeshCli, FirstStartCreatesTheMeshKeyAndKeysTellsTheRunningNode) {
  MeshNode n;
  auto node = n.start();
  ASSERT_TRUE(n.waitUntilServing()) << node->output();
  EXPECT_TRUE(has(node->output(), "mesh: created the key of a new mesh")) << node->output();
  const auto keys = readMeshKeys(n.keyFile());
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_FALSE(has(node->output(), encodeMeshKey(keys->front()))) << "the key was logged";

  auto r = runSupervisor({"invite", "--config", n.config.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(decodeInvite(trimmed(r.output))->key, keys->front());

  // No router child here: the supervisor answers 409 and the CLI says the file waits.
  r = n.keys({"install", generateKey()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "running without a router process")) << r.output;
  node->signal(SIGTERM);
  ASSERT_TRUE(node->waitExit(30s));
  EXPECT_EQ(node->exitCode(), 0) << node->output();
}

// The three ways in (join_token.h): a file, stdin, the environment. Never argv.
std::unique_ptr<TestProcess> startJoining(const MeshNode& n, const std::string& how,
                                          const std::string& token) {
  const auto file = n.dir.write("invite.txt", token + "\n");
  if (how == "file") return n.start({"--join-file", file.string()});
  if (how == "env") return n.start({}, {{"QMESH_JOIN", token}});
  // --join -: the token on stdin (a shell redirect; TestProcess gives no stdin of its own).
  return std::make_unique<TestProcess>(
      std::vector<std::string>{"/bin/sh", "-c",
                               "exec \"$0\" start --config \"$1\" --join - < \"$2\"",
                               supervisorBinary().string(), n.config.string(), file.string()},
      n.dir / "supervisor.log");
}

class MeshCliJoin : public ::testing::TestWithParam<std::string> {};

TEST_P(MeshCliJoin, StartWithAnInviteMakesItsKeyPrimary) {
  const MeshKeyBytes meshKey = *decodeMeshKey(generateKey());
  const std::string token = *encodeInvite(Invite{meshKey, {"127.0.0.1:1"}});
  MeshNode n;
  ASSERT_EQ(n.keys({"install", generateKey()}).exit_code, 0) << "a key of its own, from before";
  auto node = startJoining(n, GetParam(), token);
  ASSERT_TRUE(n.waitUntilServing()) << node->output();
  EXPECT_TRUE(has(node->output(), "mesh: the invite's key " + meshKeyFingerprint(meshKey) +
                                      " is now the primary")) << node->output();
  EXPECT_FALSE(has(node->output(), token)) << "the token (it holds the key) was logged";
  node->signal(SIGTERM);
  ASSERT_TRUE(node->waitExit(30s));
  const auto keys = *readMeshKeys(n.keyFile());
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys.front(), meshKey);
}

INSTANTIATE_TEST_SUITE_P(FromFileStdinOrEnvironment, MeshCliJoin, ::testing::Values("file", "stdin", "env"));

TEST(MeshCli, StartRefusesAnInviteTokenOnTheCommandLine) {
  MeshNode n;
  const std::string token = *encodeInvite(Invite{*decodeMeshKey(generateKey()), {"127.0.0.1:1"}});
  const auto r = runSupervisor({"start", "--config", n.config.string(), "--join", token});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "--join-file PATH, --join - (reads it from stdin), or the QMESH_JOIN "
                            "environment variable")) << r.output;
  EXPECT_FALSE(has(r.output, token)) << "the refusal echoed the secret";
  EXPECT_FALSE(fs::exists(n.keyFile())) << "refused before the mesh was touched";
}

TEST(MeshCli, StartRefusesABadMeshSetupBeforeServing) {
  MeshNode n;
  const auto bad = n.dir.write("bad-invite.txt", "qmesh1.AAAA\n");
  auto r = runSupervisor({"start", "--config", n.config.string(), "--join-file", bad.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "--join: invalid invite token: ")) << r.output;

  MeshNode seeds("  seeds: [127.0.0.1:1]\n");
  r = runSupervisor({"start", "--config", seeds.config.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "mesh.seeds is set but there is no mesh key at " +
                                seeds.keyFile().string())) << r.output;
  EXPECT_FALSE(fs::exists(seeds.keyFile()));

  TempDir dir;
  const auto off = dir.write("off.yaml", "node:\n  data_dir: " + (dir / "d").string() +
                                             "\n  control: 127.0.0.1:" +
                                             std::to_string(freeLoopbackPort()) +
                                             "\nrouter:\n  enabled: false\n");
  r = runCommand({supervisorBinary().string(), "start", "--config", off.string()}, 30s,
                 {{"QMESH_JOIN", *encodeInvite(Invite{})}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "--join needs the mesh enabled")) << r.output;
}

TEST(MeshCli, RouterStaticModeRefusesDataAddressesTheMeshCannotUse) {
  TempDir dir;
  auto router = [&](std::vector<std::string> mesh) {
    std::vector<std::string> argv = {routerBinary().string(), "--listen", "127.0.0.1:0", "--worker", "m=http://127.0.0.1:9",
                                     "--mesh-key-file", (dir / "k").string(),
                                     "--mesh-identity-file", (dir / "id").string()};
    argv.insert(argv.end(), mesh.begin(), mesh.end());
    return runCommand(std::move(argv), 30s);
  };
  // Its default would be the gossip port + 1, which does not exist.
  auto r = router({"--mesh-gossip", "127.0.0.1:65535"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "--mesh-gossip: port 65535 leaves no room for the data plane's default")) << r.output;
  // The gossip port takes TCP too (push-pull), so the data plane cannot share it.
  r = router({"--mesh-gossip", "127.0.0.1:7946", "--mesh-data", "127.0.0.1:7946"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "--mesh-data: its port is --mesh-gossip's")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "k"));  // refused before anything was written
}

TEST(MeshCli, HelpDescribesTheMeshCommands) {
  const auto h = runSupervisor({"--help"});
  EXPECT_TRUE(has(h.output, "invite") && has(h.output, "keys")) << h.output;
  const auto k = runSupervisor({"keys", "--help"});
  EXPECT_EQ(k.exit_code, 0);
  for (const char* sub : {"list", "generate", "install", "use", "remove"})
    EXPECT_TRUE(has(k.output, sub)) << sub << "\n" << k.output;
}

}  // namespace
}  // namespace qmesh::test
