// The engine's reactions to single packets and small clusters; whole-cluster properties
// (convergence, detection bounds, loss) are in gossip_sim_test.cpp.
#include "router/membership/gossip.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "router/membership/sim_cluster.h"
#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using namespace std::chrono_literals;
using test::idOf;
using test::identityOf;
using test::memberOf;
using test::signedLeaveOf;
using test::signedMemberOf;

Member selfMember() {
  Member m = memberOf(1);
  m.id = identityOf(1).id();
  return m;
}

// One engine (node 1, signing with its own identity) and a raw endpoint the test speaks
// through; the members it hears of are signedMemberOf(n).
class GossipEngineTest : public ::testing::Test {
 protected:
  GossipEngineTest() {
    raw_->setReceiveHandler([this](const Address&, std::span<const uint8_t> d) {
      auto p = decodePacket(d);
      ASSERT_TRUE(p.ok());
      for (auto& m : p->messages) received_.push_back(m);
      packets_.push_back(p->messages);
    });
  }
  void inject(const std::vector<Message>& messages) { raw_->send(self_.address, encodePacket(messages)); }
  void run(Duration d) {
    const TimePoint end = sched_.now() + d;
    while (sched_.now() < end) {
      sched_.runUntil(std::min(end, engine_.nextWakeup()));
      if (sched_.now() >= engine_.nextWakeup()) engine_.tick();
    }
  }
  template <class T>
  std::vector<T> receivedOf() const {
    std::vector<T> out;
    for (const auto& m : received_)
      if (auto* t = std::get_if<T>(&m)) out.push_back(*t);
    return out;
  }

  const Member& held(uint8_t n) const { return *engine_.members().find(identityOf(n).id()); }

  SimScheduler sched_;
  InMemoryNetwork net_{sched_, 3};
  Identity identity_ = identityOf(1);
  Ed25519Claims ed25519_{identity_};
  test::CountingClaims claims_{ed25519_};
  Member self_ = selfMember();
  std::unique_ptr<Transport> transport_ = net_.attach(self_.address);
  std::unique_ptr<Transport> raw_ = net_.attach(memberOf(2).address);
  SeededRandom random_{5};
  Gossip engine_{GossipConfig::lan(), self_, claims_, *transport_, sched_, random_};
  std::vector<Message> received_;
  std::vector<std::vector<Message>> packets_;  // the same messages, one entry per datagram
};

TEST_F(GossipEngineTest, AnswersAPingAddressedToItWithAnAck) {
  inject({Ping{77, self_.id}});
  run(10ms);
  auto acks = receivedOf<Ack>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].seq, 77u);
}

TEST_F(GossipEngineTest, AnswersAJoinPingWithNoTarget) {
  inject({Ping{5, NodeId{}}});
  run(10ms);
  EXPECT_EQ(receivedOf<Ack>().size(), 1u);
}

TEST_F(GossipEngineTest, IgnoresAPingForAnotherNodeAndCountsIt) {
  inject({Ping{77, idOf(9)}});
  run(10ms);
  EXPECT_TRUE(receivedOf<Ack>().empty());
  EXPECT_EQ(engine_.stats().misdirectedPings, 1u);
}

TEST_F(GossipEngineTest, CountsMalformedPacketsAndCarriesOn) {
  raw_->send(self_.address, std::vector<uint8_t>{3, 0, 9, 1});
  inject({Ping{1, self_.id}});
  run(10ms);
  EXPECT_EQ(engine_.stats().malformed, 1u);
  EXPECT_EQ(receivedOf<Ack>().size(), 1u);
}

TEST_F(GossipEngineTest, RepliesToASyncRequestWithItsFullState) {
  inject({SyncRequest{true}, SyncState{signedMemberOf(2)}, SyncState{signedMemberOf(3)}});
  run(10ms);
  auto states = receivedOf<SyncState>();
  ASSERT_EQ(states.size(), 3u);  // itself and the two it just learned
  EXPECT_EQ(engine_.members().liveCount(), 3u);
}

TEST_F(GossipEngineTest, RefutesASuspicionOfItselfWithAHigherIncarnation) {
  inject({SyncState{signedMemberOf(2)}});
  run(10ms);
  inject({Suspect{self_.id, 0, idOf(2)}});
  run(1s);  // its next probe of member 2 carries the refutation
  EXPECT_EQ(engine_.members().self().incarnation, 1u);
  EXPECT_EQ(engine_.stats().refutations, 1u);
  bool announced = false;
  for (const auto& a : receivedOf<Alive>())
    if (a.member.id == self_.id && a.member.incarnation == 1) {
      announced = true;
      EXPECT_TRUE(ed25519_.verifyAlive(a.member)) << "the refutation must carry a fresh signature";
    }
  EXPECT_TRUE(announced);
}

TEST_F(GossipEngineTest, ProbesAMemberAndSuspectsItWhenNoAckComes) {
  inject({SyncState{signedMemberOf(2)}});
  run(2s);  // the raw endpoint never acks
  EXPECT_GE(receivedOf<Ping>().size(), 1u);
  EXPECT_GE(engine_.stats().suspicionsRaised, 1u);
  EXPECT_NE(held(2).state, MemberState::kAlive);
}

TEST_F(GossipEngineTest, TellsTheSuspectItIsSuspectedWhenProbingIt) {
  inject({SyncState{signedMemberOf(2)}, Suspect{identityOf(2).id(), 0, idOf(3)}});
  run(1s);
  // Lifeguard's buddy system: the very ping that probes a suspect carries the suspicion, in
  // the prober's own name. Member 3's accusation, re-gossiped, rides on that ping too, and
  // later pings carry the engine's own accusation once its probe fails; only the first
  // ping, from the engine itself, shows the buddy system at work.
  const Suspect buddy{identityOf(2).id(), 0, self_.id};
  const auto firstPing = std::find_if(packets_.begin(), packets_.end(), [](const auto& packet) {
    return !packet.empty() && std::holds_alternative<Ping>(packet.front());
  });
  ASSERT_NE(firstPing, packets_.end()) << "member 2 was never probed";
  EXPECT_NE(std::find(firstPing->begin(), firstPing->end(), Message{buddy}), firstPing->end())
      << "the first ping to the suspect does not carry Suspect{2, 0, from=self}";
}

TEST_F(GossipEngineTest, NeverSendsADatagramOverItsTransportLimit) {
  net_.setReliable(false);  // the datagram path of the full-state sync
  // Enough members that full state and piggyback queues need many datagrams.
  for (uint8_t n = 2; n < 120; ++n) inject({SyncState{signedMemberOf(n, 0, std::vector<uint8_t>(300, n))}});
  inject({SyncRequest{true}});
  run(5s);
  EXPECT_EQ(net_.stats().oversize, 0u);
  EXPECT_GT(net_.stats().sent, 40u);
  EXPECT_GT(engine_.stats().syncDatagrams, 25u);
  EXPECT_EQ(engine_.stats().pushPulls, 0u);
}

TEST_F(GossipEngineTest, SendsTheWholeStateInOneReliableMessageWhenTheTransportHasOne) {
  for (uint8_t n = 2; n < 120; ++n) inject({SyncState{signedMemberOf(n, 0, std::vector<uint8_t>(300, n))}});
  run(10ms);
  std::vector<std::vector<uint8_t>> reliable;
  net_.setReliableTap([&](const Address&, const Address& to, std::span<const uint8_t> d) {
    if (to == raw_->localAddress()) reliable.emplace_back(d.begin(), d.end());
  });
  inject({SyncRequest{true}});
  run(10ms);
  ASSERT_EQ(reliable.size(), 1u);
  auto decoded = decodePacket(reliable[0]);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->messages.size(), 120u);  // the request and all 119 members
  EXPECT_EQ(std::get<SyncRequest>(decoded->messages[0]), SyncRequest{false});
  EXPECT_GT(reliable[0].size(), kMaxDatagram * 20);
  EXPECT_EQ(engine_.stats().pushPulls, 1u);
  EXPECT_EQ(engine_.stats().syncDatagrams, 0u);
}

TEST_F(GossipEngineTest, DropsAnAliveRecordSignedByAnotherKeyAndCountsIt) {
  // Member 3 holds the mesh key (it can inject packets) and claims to be member 2.
  Member forged = signedMemberOf(2);
  forged.signature = Ed25519Claims(identityOf(3)).signAlive(forged);
  inject({Alive{forged}});
  run(10ms);
  EXPECT_EQ(engine_.members().find(forged.id), nullptr);
  EXPECT_EQ(engine_.stats().badSignature, 1u);
}

TEST_F(GossipEngineTest, DropsARecordWhoseSignedFieldsWereChanged) {
  inject({SyncState{signedMemberOf(2)}});
  run(10ms);
  // A newer incarnation pointing member 2's traffic elsewhere, under its old signature.
  Member hijack = signedMemberOf(2, 0);
  hijack.incarnation = hijack.signedIncarnation = 1;
  hijack.address = "10.6.6.6:7946";
  inject({Alive{hijack}, SyncState{hijack}});
  run(10ms);
  EXPECT_EQ(held(2).address, memberOf(2).address);
  EXPECT_EQ(held(2).incarnation, 0u);
  EXPECT_EQ(engine_.stats().badSignature, 2u);
}

TEST_F(GossipEngineTest, DropsAForgedLeaveButAcceptsTheMembersOwn) {
  inject({SyncState{signedMemberOf(2)}});
  run(10ms);
  Leave forged = signedLeaveOf(2, 1);
  forged.signature = signedLeaveOf(3, 1).signature;
  inject({forged});
  run(10ms);
  EXPECT_EQ(held(2).state, MemberState::kAlive);
  EXPECT_EQ(engine_.stats().badSignature, 1u);
  inject({signedLeaveOf(2, 1)});
  run(10ms);
  EXPECT_EQ(held(2).state, MemberState::kLeft);
  EXPECT_EQ(engine_.stats().badSignature, 1u);
}

TEST_F(GossipEngineTest, AnAliveSignatureCannotPassForALeave) {
  inject({SyncState{signedMemberOf(2)}});
  run(10ms);
  const Member m = signedMemberOf(2, 1);
  inject({Leave{m.id, 1, m.signature}});  // a real signature by member 2, over other bytes
  run(10ms);
  EXPECT_EQ(held(2).state, MemberState::kAlive);
  EXPECT_EQ(engine_.stats().badSignature, 1u);
}

TEST_F(GossipEngineTest, ChecksEachRecordOnceHoweverOftenItArrives) {
  const int atStart = claims_.verifications;  // the engine checks its own record at startup
  const Member m = signedMemberOf(2);
  for (int i = 0; i < 5; ++i) inject({Alive{m}, SyncState{m}});
  run(10ms);
  EXPECT_EQ(claims_.verifications - atStart, 1);
  inject({Alive{signedMemberOf(2, 3)}});
  run(10ms);
  EXPECT_EQ(claims_.verifications - atStart, 2);
  inject({Alive{m}});  // stale: the merge ignores it, so no check is spent on it
  run(10ms);
  EXPECT_EQ(claims_.verifications - atStart, 2);
  EXPECT_EQ(engine_.stats().badSignature, 0u);
}

TEST_F(GossipEngineTest, ReSignsItsRecordWhenItsMetadataChanges) {
  inject({SyncState{signedMemberOf(2)}});
  run(10ms);
  ASSERT_TRUE(engine_.updateMeta({'w', '1'}).ok());
  run(1s);
  bool announced = false;
  for (const auto& a : receivedOf<Alive>())
    if (a.member.id == self_.id && a.member.meta == std::vector<uint8_t>{'w', '1'}) {
      announced = true;
      EXPECT_EQ(a.member.incarnation, 1u);
      EXPECT_TRUE(ed25519_.verifyAlive(a.member));
    }
  EXPECT_TRUE(announced);
  const Member& me = engine_.members().self();
  EXPECT_EQ(me.signedIncarnation, me.incarnation);
}

TEST_F(GossipEngineTest, ItsLeaveIsSignedAndSoIsItsStateInASync) {
  inject({SyncState{signedMemberOf(2)}});
  run(10ms);
  engine_.leave();
  inject({SyncRequest{true}});
  run(1s);
  bool leaveSeen = false, syncSeen = false;
  for (const auto& l : receivedOf<Leave>())
    if (l.id == self_.id) leaveSeen = ed25519_.verifyLeave(l);
  for (const auto& st : receivedOf<SyncState>())
    if (st.member.id == self_.id) {
      syncSeen = st.member.state == MemberState::kLeft &&
                 ed25519_.verifyLeave(Leave{st.member.id, st.member.incarnation, st.member.leaveSignature});
      Member record = st.member;
      record.incarnation = record.signedIncarnation;
      EXPECT_TRUE(ed25519_.verifyAlive(record));
    }
  EXPECT_TRUE(leaveSeen);
  EXPECT_TRUE(syncSeen);
}

TEST(GossipEngineDeathTest, RefusesToStartWithAnIdentityThatIsNotItsOwn) {
  SimScheduler sched;
  InMemoryNetwork net(sched, 1);
  auto t = net.attach("a");
  SeededRandom random(1);
  const Identity other = identityOf(9);
  Ed25519Claims claims(other);
  EXPECT_DEATH(Gossip(GossipConfig::lan(), selfMember(), claims, *t, sched, random), "not member");
}

TEST_F(GossipEngineTest, RefusesMetadataOverTheLimitAndKeepsItsIncarnation) {
  auto status = engine_.updateMeta(std::vector<uint8_t>(kMaxMetaBytes + 1, 1));
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(engine_.members().self().incarnation, 0u);
  EXPECT_TRUE(engine_.updateMeta(std::vector<uint8_t>(kMaxMetaBytes, 1)).ok());
  EXPECT_EQ(engine_.members().self().incarnation, 1u);
}

TEST(GossipConfig, ProfilesAreValidAndBadTimingsAreExplained) {
  EXPECT_TRUE(GossipConfig::lan().validate().ok());
  EXPECT_TRUE(GossipConfig::memberlistLan().validate().ok());
  GossipConfig c = GossipConfig::lan();
  c.probeTimeout = c.probeInterval;
  auto s = c.validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("shorter than the probe interval"), std::string::npos);
  c = GossipConfig::lan();
  c.gossipFanout = 0;
  EXPECT_FALSE(c.validate().ok());
}

TEST(GossipCluster, IndirectProbesKeepAMemberAliveWhenOnlyTheDirectLinkIsCut) {
  SimCluster c(5, GossipConfig::lan(), 21);
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 10s));
  c.network().blockLink(c.address(0), c.address(1));
  c.scheduler().runFor(60s);
  EXPECT_GT(c.node(0).stats().indirectProbes, 0u);
  uint64_t suspicions = 0;
  for (std::size_t i = 0; i < c.size(); ++i) suspicions += c.node(i).stats().suspicionsRaised;
  EXPECT_EQ(suspicions, 0u);
  EXPECT_TRUE(c.converged());
}

TEST(GossipCluster, GracefulLeaveIsSeenAsLeftAndNeverAsDead) {
  SimCluster c(5, GossipConfig::lan(), 22);
  bool sawDead = false;
  c.setChangeHook([&](std::size_t, const Member& m, MemberState) {
    if (m.id == c.id(2) && m.state == MemberState::kDead) sawDead = true;
  });
  c.joinAll();
  ASSERT_TRUE(c.runUntil([&] { return c.converged(); }, 10s));
  c.node(2).leave();
  ASSERT_TRUE(c.runUntil([&] { return c.node(2).leaveDone(); }, 5s, 10ms));
  c.kill(2);  // the process exits once its goodbye is out
  EXPECT_TRUE(c.runUntil([&] { return c.allSee(2, MemberState::kLeft); }, 5s));
  c.scheduler().runFor(60s);
  EXPECT_TRUE(c.allSee(2, MemberState::kLeft));
  EXPECT_FALSE(sawDead);
}

TEST(GossipCluster, JoinIsRetriedUntilTheSeedAnswers) {
  SimCluster c(3, GossipConfig::lan(), 23);
  c.network().setDown(c.address(0), true);
  c.joinAll();
  c.scheduler().runFor(5s);
  EXPECT_FALSE(c.converged());
  c.network().setDown(c.address(0), false);
  EXPECT_TRUE(c.runUntil([&] { return c.converged(); }, 5s));
}

}  // namespace
}  // namespace qmesh::membership
