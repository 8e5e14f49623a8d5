// The full-state sync over the transport's reliable channel: a join or a healed partition
// converges through one push-pull exchange instead of a burst of datagrams, a member that
// restarts right after being declared dead is reached within seconds, and sealed
// push-pull messages that are tampered with or replayed are dropped and counted.
#include <gtest/gtest.h>

#include "router/membership/sealed_transport.h"
#include "router/membership/sim_cluster.h"

namespace qmesh::membership {
namespace {

using namespace std::chrono_literals;

MeshKey meshKey() {
  MeshKey k;
  k.fill(1);
  return k;
}

// A sealed cluster (as in production), keeping each node's SealedTransport to read its
// counters.
struct SealedCluster {
  SealedCluster(std::size_t n, uint64_t seed, SimCluster::Options options = {}) : keyring(meshKey()) {
    cluster = std::make_unique<SimCluster>(
        n, GossipConfig::lan(), seed,
        [this](std::size_t i, const Member& self, std::unique_ptr<Transport> raw) {
          auto t = std::make_unique<SealedTransport>(std::move(raw), keyring, self.id, 1);
          sealed[i] = t.get();
          return t;
        },
        options);
  }
  uint64_t pushPulls() {
    uint64_t total = 0;
    for (std::size_t i = 0; i < cluster->size(); ++i) total += cluster->node(i).stats().pushPulls;
    return total;
  }
  Keyring keyring;  // outlives the cluster
  std::map<std::size_t, SealedTransport*> sealed;
  std::unique_ptr<SimCluster> cluster;
};

TEST(PushPull, NodeJoiningAFiftyNodeClusterLearnsEveryoneFromOneExchange) {
  SealedCluster mesh(50, 51, SimCluster::Options{.signedClaims = true, .metaBytes = 150});
  SimCluster& c = *mesh.cluster;
  c.network().setDelay(200us);
  c.joinAll(5ms);
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 20s));
  c.scheduler().runFor(5s);

  const std::size_t joiner = c.addNode();
  const auto before = c.network().stats();
  const uint64_t seedPushPulls = c.node(0).stats().pushPulls;
  c.join(joiner, 0);
  // One round trip: the join's push to the seed, and the seed's reply with all 50 records.
  c.scheduler().runFor(1ms);
  EXPECT_EQ(c.node(joiner).members().liveCount(), 51u);
  EXPECT_EQ(c.node(joiner).stats().pushPulls, 1u);
  EXPECT_EQ(c.node(0).stats().pushPulls - seedPushPulls, 1u);  // its reply
  EXPECT_EQ(c.network().stats().reliableDelivered - before.reliableDelivered, 2u);
  EXPECT_EQ(c.node(joiner).stats().syncDatagrams, 0u);
  EXPECT_EQ(mesh.sealed[joiner]->reliableStats().opened, 1u);
  // Every member already holds the joiner's signed record: nothing failed a check.
  EXPECT_EQ(c.node(joiner).stats().badSignature, 0u);
  // The rest of the cluster hears of it by gossip, well within a second.
  EXPECT_TRUE(c.runUntil([&] { return c.converged(); }, 1s, 10ms));
}

TEST(PushPull, HealedPartitionReconvergesThroughPushPull) {
  SealedCluster mesh(10, 52);
  SimCluster& c = *mesh.cluster;
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  std::vector<Address> left, right;
  for (std::size_t i = 0; i < 10; ++i) (i < 5 ? left : right).push_back(c.address(i));
  c.network().partition({left, right});
  ASSERT_TRUE(c.runUntil([&] { return c.countSeeing(0, MemberState::kDead) == 5; }, 10s, 50ms));
  // Both sides have written the other off, and the quick retries of the first minute after
  // a verdict are over.
  c.scheduler().runFor(GossipConfig::lan().deadRetryWindow + 5s);
  const uint64_t pushPullsBefore = mesh.pushPulls();
  const uint64_t deliveredBefore = c.network().stats().reliableDelivered;
  c.network().heal();
  // Nobody probes the dead; the sync that reaches out to one dead member each interval
  // (30 s, +/- the random phase) is what brings the halves back together.
  EXPECT_TRUE(c.runUntil([&] { return c.converged(); }, 2 * GossipConfig::lan().syncInterval, 100ms));
  EXPECT_GT(mesh.pushPulls(), pushPullsBefore);
  EXPECT_GT(c.network().stats().reliableDelivered, deliveredBefore);
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c.node(i).stats().syncDatagrams, 0u) << i;
}

TEST(PushPull, DeadMemberThatRestartsWithoutSeedsIsFoundWithinSecondsNotASyncInterval) {
  SealedCluster mesh(5, 55);
  SimCluster& c = *mesh.cluster;
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  // Node 0 created the mesh: it has no seeds. It crashes and comes straight back with
  // nothing to join (its own address as the seed, which join() drops).
  c.kill(0);
  ASSERT_TRUE(c.runUntil([&] { return c.allSee(0, MemberState::kDead); }, 10s, 10ms));
  c.restart(0, 0);
  ASSERT_EQ(c.node(0).members().liveCount(), 1u);
  // The others reach out to it within one retry interval (plus the push-pull's way back),
  // long before the regular sync's next round could be counted on.
  const auto interval = GossipConfig::lan().deadRetryInterval;
  EXPECT_TRUE(c.runUntil([&] { return c.converged(); }, interval + 500ms, 10ms));
  EXPECT_EQ(c.node(0).members().liveCount(), 5u);
}

TEST(PushPull, RetriesToADeadMemberStopAfterTheWindow) {
  SealedCluster mesh(5, 56);
  SimCluster& c = *mesh.cluster;
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  const Address gone = c.address(4);
  std::size_t toGone = 0;
  c.network().setReliableTap([&](const Address&, const Address& to, std::span<const uint8_t>) { toGone += to == gone; });
  c.kill(4);
  ASSERT_TRUE(c.runUntil([&] { return c.allSee(4, MemberState::kDead); }, 10s, 10ms));
  const GossipConfig cfg = GossipConfig::lan();
  toGone = 0;
  c.scheduler().runFor(cfg.deadRetryWindow);
  // Four survivors, one attempt per interval each (the window's last may fall either side
  // of its end), plus at most two regular sync rounds each.
  const auto perNode = static_cast<std::size_t>(cfg.deadRetryWindow / cfg.deadRetryInterval);
  EXPECT_GE(toGone, 4 * (perNode - 1));
  EXPECT_LE(toGone, 4 * (perNode + 2));
  toGone = 0;
  c.scheduler().runFor(2 * cfg.syncInterval);
  EXPECT_LE(toGone, 4u * 3u) << "after the window only the regular sync (one dead member per round) remains";
  c.network().setReliableTap(nullptr);
}

TEST(PushPull, TamperedOrReplayedPushPullIsDroppedAndCounted) {
  SealedCluster mesh(5, 53);
  SimCluster& c = *mesh.cluster;
  std::vector<std::pair<Address, std::vector<uint8_t>>> captured;  // to, sealed bytes
  c.network().setReliableTap([&](const Address&, const Address& to, std::span<const uint8_t> d) {
    captured.emplace_back(to, std::vector<uint8_t>(d.begin(), d.end()));
  });
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  c.network().setReliableTap(nullptr);
  ASSERT_GE(captured.size(), 8u);  // four joins and their replies

  auto attacker = c.network().attach("10.6.6.6:1");
  uint64_t openedBefore = 0;
  for (auto& [i, t] : mesh.sealed) openedBefore += t->reliableStats().opened;
  for (const auto& [to, bytes] : captured) {
    attacker->sendReliable(to, bytes);  // replay
    auto tampered = bytes;
    tampered[tampered.size() / 2] ^= 0x01;
    attacker->sendReliable(to, tampered);
    auto asDatagram = bytes;  // the same bytes over UDP: still the push-pull envelope's
    if (asDatagram.size() <= kMaxDatagram) attacker->send(to, asDatagram);
  }
  c.scheduler().runFor(10ms);
  uint64_t replayed = 0, authFailed = 0, opened = 0;
  for (auto& [i, t] : mesh.sealed) {
    replayed += t->reliableStats().replayed;
    authFailed += t->reliableStats().authFailed;
    opened += t->reliableStats().opened;
  }
  std::size_t small = 0;
  for (const auto& [to, bytes] : captured) small += bytes.size() <= kMaxDatagram;
  EXPECT_EQ(replayed, captured.size() + small);
  EXPECT_EQ(authFailed, captured.size());
  EXPECT_EQ(opened, openedBefore) << "nothing the attacker sent reached the protocol";
  for (auto& [i, t] : mesh.sealed) EXPECT_EQ(t->stats().rejected(), 0u) << "datagram envelope untouched";
  EXPECT_TRUE(c.converged());
}

TEST(PushPull, WithoutAReliableChannelTheSyncStillWorksOverDatagrams) {
  SealedCluster mesh(20, 54);
  SimCluster& c = *mesh.cluster;
  c.network().setReliable(false);
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  EXPECT_EQ(mesh.pushPulls(), 0u);
  uint64_t syncDatagrams = 0;
  for (std::size_t i = 0; i < c.size(); ++i) syncDatagrams += c.node(i).stats().syncDatagrams;
  EXPECT_GT(syncDatagrams, 19u);
  EXPECT_EQ(c.network().stats().oversize, 0u);
}

}  // namespace
}  // namespace qmesh::membership
