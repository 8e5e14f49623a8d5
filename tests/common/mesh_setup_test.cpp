// prepareMesh: which keys a node ends up with and whom it contacts, for each way a node can
// start (alone, first of a new mesh, joining with a token, restarted after a rotation), and
// the invite a node hands out.
#include "common/mesh_setup.h"

#include <gtest/gtest.h>

#include "common/invite.h"
#include "tests/common/config_test_util.h"
#include "tests/support/test_env.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;
using test::Contains;
using test::keyOf;

std::string tokenFor(const MeshKeyBytes& key, std::vector<std::string> seeds) {
  return *encodeInvite(Invite{key, std::move(seeds)});
}

class MeshSetupTest : public ::testing::Test {
 protected:
  MeshSetupTest() {
    config_.file = dir_ / "node.yaml";
    config_.node.data_dir = dir_ / "data";
    config_.mesh.gossip = HostPort{"0.0.0.0", 7946};
    config_.mesh.data = HostPort{"0.0.0.0", 7947};
    config_.mesh.key_file = dir_ / "data" / "mesh.keys";
  }
  const fs::path& keyFile() const { return config_.mesh.key_file; }
  std::vector<MeshKeyBytes> fileKeys() const { return *readMeshKeys(keyFile()); }

  test::TempDir dir_;
  NodeConfig config_;
};

TEST_F(MeshSetupTest, DisabledMeshTouchesNothing) {
  config_.mesh.gossip.port = 0;
  const auto b = prepareMesh(config_, "");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_FALSE(b->enabled);
  EXPECT_TRUE(b->keys.empty());
  EXPECT_FALSE(fs::exists(config_.node.data_dir));
}

TEST_F(MeshSetupTest, JoinOnADisabledMeshIsAnErrorNotIgnored) {
  config_.mesh.gossip.port = 0;
  EXPECT_TRUE(Contains(prepareMesh(config_, tokenFor(keyOf(1), {})).error().message,
                       "--join needs the mesh enabled, but mesh.gossip has port 0 in " +
                           config_.file.string()));
}

TEST_F(MeshSetupTest, FirstNodeOfANewMeshCreatesItsKey) {
  const auto b = prepareMesh(config_, "");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE(b->enabled);
  EXPECT_TRUE(b->created_key);
  ASSERT_EQ(b->keys.size(), 1u);
  EXPECT_EQ(fileKeys(), b->keys);
  EXPECT_TRUE(b->seeds.empty());
}

TEST_F(MeshSetupTest, SecondRunFindsTheKeyAndChangesNothing) {
  const auto first = *prepareMesh(config_, "");
  const auto written = fs::last_write_time(keyFile());
  const auto again = prepareMesh(config_, "");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created_key);
  EXPECT_EQ(again->keys, first.keys);
  EXPECT_EQ(fs::last_write_time(keyFile()), written);
}

TEST_F(MeshSetupTest, SeedsWithoutAKeyIsAnErrorNamingBothFixes) {
  config_.mesh.seeds = {"10.0.0.2:7946"};
  EXPECT_EQ(prepareMesh(config_, "").error().message,
            "mesh.seeds is set but there is no mesh key at " + keyFile().string() +
                ": copy the key file from a node of the mesh, or start with --join <token from "
                "`qmesh-supervisor invite`>");
  EXPECT_FALSE(fs::exists(keyFile()));
}

TEST_F(MeshSetupTest, TokenWithoutAKeyFileWritesTheTokensKey) {
  const auto b = prepareMesh(config_, tokenFor(keyOf(1), {"10.0.0.1:7946"}));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE(b->invite_applied);
  EXPECT_FALSE(b->created_key);
  EXPECT_EQ(b->keys, std::vector<MeshKeyBytes>{keyOf(1)});
  EXPECT_EQ(fileKeys(), b->keys);
  EXPECT_EQ(b->seeds, std::vector<std::string>{"10.0.0.1:7946"});
}

TEST_F(MeshSetupTest, TokenKeyBecomesPrimaryAndTheOthersStay) {
  ASSERT_TRUE(writeMeshKeys(keyFile(), {keyOf(8), keyOf(9)}));
  const auto b = prepareMesh(config_, tokenFor(keyOf(1), {}));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->keys, (std::vector<MeshKeyBytes>{keyOf(1), keyOf(8), keyOf(9)}));
  EXPECT_EQ(fileKeys(), b->keys);
}

TEST_F(MeshSetupTest, InstalledTokenKeyIsMovedFirst) {
  ASSERT_TRUE(writeMeshKeys(keyFile(), {keyOf(8), keyOf(1), keyOf(9)}));
  const auto b = prepareMesh(config_, tokenFor(keyOf(1), {}));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE(b->invite_applied);
  EXPECT_EQ(fileKeys(), (std::vector<MeshKeyBytes>{keyOf(1), keyOf(8), keyOf(9)}));
}

TEST_F(MeshSetupTest, CommandLineTokenOverridesMeshJoin) {
  config_.mesh.join = tokenFor(keyOf(2), {"10.0.0.2:7946"});
  const auto b = prepareMesh(config_, tokenFor(keyOf(3), {"10.0.0.3:7946"}));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->keys.front(), keyOf(3));
  EXPECT_EQ(b->seeds, std::vector<std::string>{"10.0.0.3:7946"});
}

TEST_F(MeshSetupTest, MeshJoinIsUsedWithoutACommandLineToken) {
  config_.mesh.join = tokenFor(keyOf(2), {});
  EXPECT_EQ(prepareMesh(config_, "")->keys.front(), keyOf(2));
}

TEST_F(MeshSetupTest, TokenLeftInTheConfigCannotUndoARotation) {
  config_.mesh.join = tokenFor(keyOf(1), {});
  ASSERT_TRUE(prepareMesh(config_, ""));
  // The operator rotates: install 2, use 2, remove 1.
  ASSERT_TRUE(writeMeshKeys(keyFile(), {keyOf(2)}));
  const auto b = prepareMesh(config_, "");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_FALSE(b->invite_applied);
  EXPECT_EQ(b->keys, std::vector<MeshKeyBytes>{keyOf(2)}) << "the removed key came back";
  // And the same token again on the command line changes nothing either.
  EXPECT_EQ(prepareMesh(config_, config_.mesh.join)->keys, std::vector<MeshKeyBytes>{keyOf(2)});
}

TEST_F(MeshSetupTest, RouterRunAfterTheSupervisorChangesNothing) {
  const std::string token = tokenFor(keyOf(1), {"10.0.0.1:7946"});
  ASSERT_TRUE(prepareMesh(config_, token));
  const auto written = fs::last_write_time(keyFile());
  const auto b = prepareMesh(config_, token);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_FALSE(b->invite_applied);
  EXPECT_EQ(b->seeds, std::vector<std::string>{"10.0.0.1:7946"}) << "seeds come from the token every time";
  EXPECT_EQ(fs::last_write_time(keyFile()), written);
}

TEST_F(MeshSetupTest, SeedsAreMergedNormalisedAndDeduplicated) {
  config_.mesh.seeds = {"10.0.0.1:7946", "localhost:7946"};
  const auto b = prepareMesh(config_, tokenFor(keyOf(1), {"127.0.0.1:7946", "10.0.0.5:7946",
                                                          "10.0.0.1:7946"}));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->seeds, (std::vector<std::string>{"10.0.0.1:7946", "127.0.0.1:7946", "10.0.0.5:7946"}));
}

TEST_F(MeshSetupTest, MalformedKeyFileIsAnErrorAndIsLeftAlone) {
  const fs::path p = dir_.write("data/mesh.keys", "garbage\n");
  ::chmod(p.c_str(), 0600);
  EXPECT_TRUE(Contains(prepareMesh(config_, tokenFor(keyOf(1), {})).error().message, p.string() + ":1: "));
  EXPECT_TRUE(Contains(prepareMesh(config_, "").error().message, p.string() + ":1: "));
  EXPECT_FALSE(readMeshKeys(p));
}

TEST_F(MeshSetupTest, IdentityFileReadableByOthersIsRefusedBeforeAnythingIsWritten) {
  config_.mesh.identity_file = dir_.write("data/node.id", std::string(64, 'a') + "\n");
  ::chmod(config_.mesh.identity_file.c_str(), 0644);
  const auto r = prepareMesh(config_, "");
  ASSERT_FALSE(r);
  EXPECT_TRUE(Contains(r.error().message, "node identity file is readable by other users (mode 0644): run "
                                          "`chmod 600 " + config_.mesh.identity_file.string() + "`"));
  EXPECT_FALSE(fs::exists(keyFile())) << "refused before a key was created";
}

TEST_F(MeshSetupTest, BadTokenNamesWhereItCameFrom) {
  EXPECT_TRUE(Contains(prepareMesh(config_, "qmesh1.AAAA").error().message,
                       "--join: invalid invite token: "));
  config_.mesh.join = "nonsense";
  EXPECT_TRUE(Contains(prepareMesh(config_, "").error().message,
                       "mesh.join in " + config_.file.string() + ": invalid invite token: "));
}

TEST_F(MeshSetupTest, InviteCarriesThePrimaryKeyTheAdvertisedAddressAndTheSeeds) {
  ASSERT_TRUE(writeMeshKeys(keyFile(), {keyOf(5), keyOf(6)}));
  config_.mesh.advertise = HostPort{"203.0.113.9", 17946};
  config_.mesh.seeds = {"10.0.0.2:7946"};
  const auto token = createInviteToken(config_);
  ASSERT_TRUE(token) << token.error().message;
  const auto invite = *decodeInvite(*token);
  EXPECT_EQ(invite.key, keyOf(5));
  EXPECT_EQ(invite.seeds, (std::vector<std::string>{"203.0.113.9:17946", "10.0.0.2:7946"}));
}

TEST_F(MeshSetupTest, InviteUsesTheGossipAddressWhenItIsNotAWildcard) {
  ASSERT_TRUE(writeMeshKeys(keyFile(), {keyOf(5)}));
  config_.mesh.gossip = HostPort{"192.168.1.4", 7946};
  EXPECT_EQ(decodeInvite(*createInviteToken(config_))->seeds,
            std::vector<std::string>{"192.168.1.4:7946"});
}

TEST_F(MeshSetupTest, InviteOnAWildcardGossipAsksForAdvertise) {
  ASSERT_TRUE(writeMeshKeys(keyFile(), {keyOf(5)}));
  EXPECT_TRUE(Contains(createInviteToken(config_).error().message,
                       "mesh.gossip listens on 0.0.0.0:7946 (every interface), so an invite cannot "
                       "say where other nodes reach this one: set mesh.advertise"));
}

TEST_F(MeshSetupTest, InviteNeedsAnEnabledMeshAndAKey) {
  config_.mesh.advertise = HostPort{"10.0.0.1", 7946};
  EXPECT_TRUE(Contains(createInviteToken(config_).error().message,
                       "no mesh key at " + keyFile().string() + ": start the node once"));
  config_.mesh.gossip.port = 0;
  EXPECT_TRUE(Contains(createInviteToken(config_).error().message, "the mesh is disabled"));
}

}  // namespace
}  // namespace qmesh
