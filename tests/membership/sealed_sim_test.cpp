// Clusters whose every datagram goes through the AEAD envelope: the protocol still works
// inside the crypto overhead, and forged, damaged, replayed or foreign packets are dropped
// and counted without reaching the protocol.
#include <gtest/gtest.h>

#include "router/membership/sealed_transport.h"
#include "router/membership/sim_cluster.h"
#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using namespace std::chrono_literals;
using test::keyOf;

// Keyrings and the per-node sealed transports (non-owning) of a sealed SimCluster.
struct SealedMesh {
  explicit SealedMesh(std::size_t n, uint64_t seed, const MeshKey& key = keyOf(1),
                      GossipConfig config = GossipConfig::lan()) {
    for (std::size_t i = 0; i < n; ++i) keyrings.push_back(std::make_unique<Keyring>(key));
    sealed.resize(n);
    cluster = std::make_unique<SimCluster>(
        n, config, seed, [this](std::size_t i, const Member& self, std::unique_ptr<Transport> raw) {
          auto t = std::make_unique<SealedTransport>(std::move(raw), *keyrings[i], self.id,
                                                     ++epochs[i]);
          sealed[i] = t.get();
          return t;
        });
  }
  uint64_t rejectedTotal() const {
    uint64_t r = 0;
    for (auto* t : sealed) r += t->stats().rejected() + t->reliableStats().rejected();
    return r;
  }
  std::vector<std::unique_ptr<Keyring>> keyrings;  // outlive the cluster
  std::map<std::size_t, uint64_t> epochs;
  std::vector<SealedTransport*> sealed;
  std::unique_ptr<SimCluster> cluster;
};

TEST(SealedSim, SealedClusterConvergesAndDetectsAFailure) {
  SealedMesh mesh(10, 31);
  SimCluster& c = *mesh.cluster;
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  c.kill(4);
  EXPECT_TRUE(c.runUntil([&] { return c.allSee(4, MemberState::kDead); }, 3s, 10ms));
  EXPECT_EQ(mesh.rejectedTotal(), 0u);
  EXPECT_EQ(c.network().stats().oversize, 0u);
}

TEST(SealedSim, NodeWithTheWrongMeshKeyCannotJoinAndItsPacketsAreCounted) {
  SealedMesh mesh(4, 32);
  SimCluster& c = *mesh.cluster;
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));

  std::array<uint8_t, 32> seed;
  seed.fill(0xEE);
  const Identity identity = Identity::fromSeed(seed);
  Ed25519Claims claims(identity);
  Member intruder;
  intruder.id = identity.id();
  intruder.name = "intruder";
  intruder.address = "10.9.9.9:7946";
  Keyring wrongKey(keyOf(99));
  SealedTransport intruderTransport(c.network().attach(intruder.address), wrongKey, intruder.id, 1);
  SeededRandom random(1);
  Gossip engine(GossipConfig::lan(), intruder, claims, intruderTransport, c.scheduler(), random);
  engine.join({c.address(0)});
  for (int i = 0; i < 50; ++i) {
    c.scheduler().runFor(100ms);
    engine.tick();
  }
  EXPECT_EQ(engine.members().liveCount(), 1u);  // it learned nobody
  for (std::size_t i = 0; i < c.size(); ++i)
    EXPECT_EQ(c.node(i).members().find(intruder.id), nullptr) << "node " << i;
  // Its join is a push-pull (reliable channel); its probes of the seed are datagrams.
  auto authFailed = [](const SealedTransport& t) {
    return t.stats().authFailed + t.reliableStats().authFailed;
  };
  EXPECT_GT(mesh.sealed[0]->reliableStats().authFailed, 0u);
  EXPECT_GT(authFailed(intruderTransport) + authFailed(*mesh.sealed[0]), 3u);
}

TEST(SealedSim, TamperedTruncatedAndReplayedPacketsAreDroppedAndCounted) {
  SealedMesh mesh(5, 33);
  SimCluster& c = *mesh.cluster;
  std::vector<std::pair<Address, std::vector<uint8_t>>> captured;  // to, bytes
  c.network().setTap([&](const Address&, const Address& to, std::span<const uint8_t> d) {
    if (captured.size() < 200) captured.emplace_back(to, std::vector<uint8_t>(d.begin(), d.end()));
  });
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  c.scheduler().runFor(5s);  // ordinary probe traffic to capture
  c.network().setTap(nullptr);
  ASSERT_GE(captured.size(), 100u);

  auto attacker = c.network().attach("10.6.6.6:1");
  const uint64_t before = mesh.rejectedTotal();
  const uint64_t packetsBefore = c.node(1).stats().packetsIn + c.node(2).stats().packetsIn +
                                 c.node(3).stats().packetsIn + c.node(4).stats().packetsIn +
                                 c.node(0).stats().packetsIn;
  std::size_t injected = 0;
  for (std::size_t i = 0; i < 100; ++i) {
    auto [to, bytes] = captured[i];
    attacker->send(to, bytes);  // replay
    auto tampered = bytes;
    tampered[tampered.size() / 2] ^= 0x40;
    attacker->send(to, tampered);
    attacker->send(to, std::span(bytes).first(bytes.size() - 1));  // truncated
    injected += 3;
  }
  c.scheduler().runFor(10ms);
  const uint64_t packetsAfter = c.node(1).stats().packetsIn + c.node(2).stats().packetsIn +
                                c.node(3).stats().packetsIn + c.node(4).stats().packetsIn +
                                c.node(0).stats().packetsIn;
  uint64_t replayed = 0, authFailed = 0;
  for (auto* t : mesh.sealed) {
    replayed += t->stats().replayed;
    authFailed += t->stats().authFailed;
  }
  EXPECT_EQ(mesh.rejectedTotal() - before, injected);
  EXPECT_EQ(replayed, 100u);
  EXPECT_GE(authFailed, 200u);  // tampered and truncated both fail the tag
  // Only the cluster's own traffic during those 10 ms reached the protocol.
  EXPECT_LT(packetsAfter - packetsBefore, 100u);
  EXPECT_TRUE(c.converged());
}

TEST(SealedSim, KeyRotationAcrossTheMeshLosesNoMember) {
  SealedMesh mesh(6, 34);
  SimCluster& c = *mesh.cluster;
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  std::size_t deaths = 0;
  c.setChangeHook([&](std::size_t, const Member& m, MemberState) {
    if (m.state != MemberState::kAlive) ++deaths;
  });
  // Serf's three steps, node by node with time in between, as an operator would.
  for (auto& k : mesh.keyrings) { k->install(keyOf(2)); c.scheduler().runFor(1s); }
  for (auto& k : mesh.keyrings) { ASSERT_TRUE(k->use(keyOf(2)).ok()); c.scheduler().runFor(1s); }
  for (auto& k : mesh.keyrings) { ASSERT_TRUE(k->remove(keyOf(1)).ok()); c.scheduler().runFor(1s); }
  c.scheduler().runFor(30s);
  EXPECT_EQ(deaths, 0u);
  EXPECT_EQ(mesh.rejectedTotal(), 0u);
  EXPECT_TRUE(c.converged());
}

TEST(SealedSim, ReapedMemberLosesItsReplayWindowsButNotItsReplayProtection) {
  GossipConfig config = GossipConfig::lan();
  config.deadRetention = 10s;
  SealedMesh mesh(5, 35, keyOf(1), config);
  SimCluster& c = *mesh.cluster;
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  for (std::size_t i = 0; i < 4; ++i)
    c.node(i).setReapListener([&mesh, i](const Member& m) { mesh.sealed[i]->forgetPeer(m.id); });
  std::vector<std::pair<Address, std::vector<uint8_t>>> fromVictim;
  c.network().setTap([&](const Address& from, const Address& to, std::span<const uint8_t> d) {
    if (from == c.address(4)) fromVictim.emplace_back(to, std::vector<uint8_t>(d.begin(), d.end()));
  });
  c.scheduler().runFor(2s);
  c.network().setTap(nullptr);
  ASSERT_GT(fromVictim.size(), 10u);

  c.kill(4);
  auto forgotten = [&] {
    for (std::size_t i = 0; i < 4; ++i)
      if (c.node(i).members().find(c.id(4))) return false;
    return true;
  };
  ASSERT_TRUE(c.runUntil(forgotten, 30s, 100ms));
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(mesh.sealed[i]->datagramEnvelope().peerWindows(), 3u) << "node " << i;

  // Its recorded packets are still replays: the forgotten window kept its floor.
  auto attacker = c.network().attach("10.6.6.6:1");
  uint64_t replayedBefore = 0;
  for (std::size_t i = 0; i < 4; ++i) replayedBefore += mesh.sealed[i]->stats().replayed;
  for (const auto& [to, bytes] : fromVictim) attacker->send(to, bytes);
  c.scheduler().runFor(10ms);
  uint64_t replayed = 0;
  for (std::size_t i = 0; i < 4; ++i) replayed += mesh.sealed[i]->stats().replayed;
  EXPECT_EQ(replayed - replayedBefore, fromVictim.size());
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(c.node(i).members().find(c.id(4)), nullptr);

  // The node itself, restarted (a newer boot epoch), is welcome back.
  c.restart(4, 0);
  EXPECT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
}

}  // namespace
}  // namespace qmesh::membership
