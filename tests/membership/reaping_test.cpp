// Dead and left members are forgotten after GossipConfig::deadRetention, and the owner is
// told (so the router drops their workers and the sealed transport their replay windows).
#include <gtest/gtest.h>

#include "router/membership/sim_cluster.h"

namespace qmesh::membership {
namespace {

using namespace std::chrono_literals;

GossipConfig withRetention(Duration retention) {
  GossipConfig c = GossipConfig::lan();
  c.deadRetention = retention;
  return c;
}

std::size_t holding(SimCluster& c, std::size_t subject) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < c.size(); ++i)
    if (i != subject && c.up(i) && c.node(i).members().find(c.id(subject))) ++n;
  return n;
}

struct ReapLog {
  std::vector<std::pair<std::size_t, Member>> reaped;  // observer, last record
  void attach(SimCluster& c) {
    for (std::size_t i = 0; i < c.size(); ++i)
      c.node(i).setReapListener([this, i](const Member& m) { reaped.emplace_back(i, m); });
  }
};

TEST(Reaping, ForgetsADeadMemberAfterTheRetentionAndTellsTheListenerOnce) {
  SimCluster c(5, withRetention(20s), 41);
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  ReapLog log;
  log.attach(c);
  c.kill(3);
  ASSERT_TRUE(c.runUntil([&] { return c.allSee(3, MemberState::kDead); }, 5s, 10ms));
  c.scheduler().runFor(15s);
  EXPECT_EQ(holding(c, 3), 4u) << "kept for the whole retention";
  EXPECT_TRUE(log.reaped.empty());
  EXPECT_TRUE(c.runUntil([&] { return holding(c, 3) == 0; }, 10s, 100ms));
  ASSERT_EQ(log.reaped.size(), 4u);
  for (const auto& [observer, m] : log.reaped) {
    EXPECT_EQ(m.id, c.id(3));
    EXPECT_EQ(m.state, MemberState::kDead);
    EXPECT_EQ(c.node(observer).stats().reaped, 1u);
  }
  // Stale dead verdicts and sync records about it do not bring it back.
  c.scheduler().runFor(2 * GossipConfig::lan().syncInterval);
  EXPECT_EQ(holding(c, 3), 0u);
  EXPECT_EQ(log.reaped.size(), 4u);
  EXPECT_TRUE(c.converged());
}

TEST(Reaping, ForgetsALeftMemberToo) {
  SimCluster c(4, withRetention(10s), 42);
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  ReapLog log;
  log.attach(c);
  c.node(2).leave();
  ASSERT_TRUE(c.runUntil([&] { return c.node(2).leaveDone(); }, 5s, 10ms));
  c.kill(2);
  ASSERT_TRUE(c.runUntil([&] { return c.allSee(2, MemberState::kLeft); }, 5s));
  EXPECT_TRUE(c.runUntil([&] { return holding(c, 2) == 0; }, 15s, 100ms));
  EXPECT_EQ(log.reaped.size(), 3u);
}

TEST(Reaping, ZeroRetentionKeepsTheDeadForever) {
  SimCluster c(4, withRetention(Duration::zero()), 43);
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  c.kill(1);
  ASSERT_TRUE(c.runUntil([&] { return c.allSee(1, MemberState::kDead); }, 5s, 10ms));
  c.scheduler().runFor(30min);
  EXPECT_TRUE(c.allSee(1, MemberState::kDead));
}

TEST(Reaping, AForgottenMemberThatComesBackJoinsAsNew) {
  SimCluster c(5, withRetention(10s), 44);
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  c.kill(4);
  ASSERT_TRUE(c.runUntil([&] { return holding(c, 4) == 0; }, 30s, 100ms));
  std::size_t seenNew = 0;
  c.setChangeHook([&](std::size_t, const Member& m, MemberState) {
    if (m.id == c.id(4) && m.state == MemberState::kAlive) ++seenNew;
  });
  c.restart(4, 0);
  EXPECT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
  EXPECT_EQ(seenNew, 4u);
}

TEST(Reaping, RetentionShorterThanTenProbesIsAConfigError) {
  GossipConfig c = withRetention(1s);
  auto s = c.validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("retention"), std::string::npos);
  EXPECT_TRUE(withRetention(2s).validate().ok());
  EXPECT_TRUE(withRetention(Duration::zero()).validate().ok());
}

}  // namespace
}  // namespace qmesh::membership
