// A member that holds the mesh key but means harm: its sealed packets open, so everything it
// says reaches the engine. It must not be able to evict or mute another member: no verdicts
// above what the subject signed, no incarnation wrapped back to 0, no accusations in
// another member's name.
#include <gtest/gtest.h>

#include <limits>

#include "router/membership/gossip.h"
#include "router/membership/in_memory_network.h"
#include "router/membership/member_table.h"
#include "router/membership/sealed_transport.h"
#include "router/membership/sim_scheduler.h"
#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using namespace std::chrono_literals;
using test::idOf;
using test::identityOf;
using test::memberOf;
using test::signedMemberOf;

constexpr uint32_t kTop = std::numeric_limits<uint32_t>::max();
constexpr uint8_t kSelf = 1, kMallory = 2, kVictim = 3, kBystander = 4;

MeshKey meshKey() {
  MeshKey k;
  k.fill(0x42);
  return k;
}

// Node 1's engine behind a sealed transport, and Mallory (member 2) speaking to it through
// her own envelope: every packet she sends authenticates as hers.
class HostileMemberTest : public ::testing::Test {
 protected:
  HostileMemberTest() {
    say({SyncState{signedMemberOf(kMallory)}, SyncState{signedMemberOf(kVictim)},
         SyncState{signedMemberOf(kBystander)}});
  }

  void say(const std::vector<Message>& messages) {
    auto sealed = mallorySeal_.seal(encodePacket(messages));
    ASSERT_TRUE(sealed);
    mallory_->send(self_.address, *sealed);
    run(1ms);
  }
  void run(Duration d) {
    const TimePoint end = sched_.now() + d;
    while (sched_.now() < end) {
      sched_.runUntil(std::min(end, engine_.nextWakeup()));
      if (sched_.now() >= engine_.nextWakeup()) engine_.tick();
    }
  }
  NodeId id(uint8_t n) const { return identityOf(n).id(); }
  const Member& held(uint8_t n) const { return *engine_.members().find(id(n)); }

  static Member selfMember() {
    Member m = memberOf(kSelf);
    m.id = identityOf(kSelf).id();
    return m;
  }

  SimScheduler sched_;
  InMemoryNetwork net_{sched_, 3};
  Keyring keyring_{meshKey()};
  Identity identity_ = identityOf(kSelf);
  Ed25519Claims claims_{identity_};
  Member self_ = selfMember();
  SealedTransport transport_{net_.attach(self_.address), keyring_, self_.id, 1};
  std::unique_ptr<Transport> mallory_ = net_.attach(memberOf(kMallory).address);
  Envelope mallorySeal_{keyring_, identityOf(kMallory).id(), 1};
  SeededRandom random_{5};
  Gossip engine_{GossipConfig::lan(), self_, claims_, transport_, sched_, random_};
};

TEST(HostileMember, ARefutationNeverWrapsTheIncarnationToZero) {
  // Only a record we signed can reach the top incarnation (an old life of ours, replayed):
  // outbidding it by wrapping to 0 would leave us below every claim about us.
  MemberTable t(memberOf(kSelf, kTop));
  EXPECT_EQ(t.applySuspect(Suspect{idOf(kSelf), kTop, idOf(kMallory)}).outcome, MergeOutcome::kIgnored);
  EXPECT_EQ(t.self().incarnation, kTop);
  Member elsewhere = memberOf(kSelf, kTop);
  elsewhere.address = "10.9.9.9:1";
  EXPECT_EQ(t.applyAlive(elsewhere).outcome, MergeOutcome::kIgnored);
  EXPECT_EQ(t.self().incarnation, kTop);
  MemberTable below(memberOf(kSelf, kTop - 1));  // one below: refuted as ever
  EXPECT_EQ(below.applySuspect(Suspect{idOf(kSelf), kTop - 1, idOf(kMallory)}).outcome, MergeOutcome::kRefuted);
  EXPECT_EQ(below.self().incarnation, kTop);
}

TEST_F(HostileMemberTest, IgnoresAVerdictAboveTheSubjectsSignedIncarnation) {
  ASSERT_EQ(held(kVictim).state, MemberState::kAlive);
  say({Dead{id(kVictim), kTop, id(kMallory)}, Suspect{id(kBystander), 1, id(kMallory)}});
  EXPECT_EQ(held(kVictim).state, MemberState::kAlive);
  EXPECT_EQ(held(kVictim).incarnation, 0u);
  EXPECT_EQ(held(kBystander).state, MemberState::kAlive);
  // The victim can still be accused of what it did sign, and refute that as usual.
  say({Suspect{id(kVictim), 0, id(kMallory)}});
  EXPECT_EQ(held(kVictim).state, MemberState::kSuspect);
}

TEST_F(HostileMemberTest, DoesNotJumpItsOwnIncarnationForAnAccusationItNeverSigned) {
  say({Suspect{self_.id, kTop, id(kMallory)}, Dead{self_.id, 1000, id(kMallory)}});
  run(500ms);
  EXPECT_EQ(engine_.members().self().incarnation, 0u);
  EXPECT_EQ(engine_.stats().refutations, 0u);
  say({Suspect{self_.id, 0, id(kMallory)}});  // at our incarnation: refuted as ever
  EXPECT_EQ(engine_.members().self().incarnation, 1u);
}

TEST_F(HostileMemberTest, AccusersNamedByAnotherMemberDoNotHastenTheVerdict) {
  // Mallory accuses the victim herself, then "confirms" it in the bystander's name and in a
  // stranger's: were they believed, two confirmations would cut the timeout (4.8 s with N=4)
  // to Lifeguard's minimum, 0.8 s. Our own failed probe of the victim is the only real
  // confirmation, which leaves 2.3 s.
  const TimePoint accused = sched_.now();
  say({Suspect{id(kVictim), 0, id(kMallory)}, Suspect{id(kVictim), 0, id(kBystander)},
       Suspect{id(kVictim), 0, idOf(9)}});
  ASSERT_EQ(held(kVictim).state, MemberState::kSuspect);
  EXPECT_EQ(engine_.stats().relayedAccusations, 2u);
  run(accused + 1500ms - sched_.now());
  EXPECT_EQ(held(kVictim).state, MemberState::kSuspect) << "declared dead on forged confirmations";
  run(2s);
  EXPECT_EQ(held(kVictim).state, MemberState::kDead);  // the honest timeout still runs out
}

TEST_F(HostileMemberTest, DropsASignedRecordWhoseNameOrAddressBreaksTheRulesAndCountsIt) {
  // Mallory signs records of her own: a name made to forge log lines and metrics, then a
  // host name for an address (resolving it would block our loop on her DNS).
  auto signedAs = [](Member m) {
    m.signature = Ed25519Claims(identityOf(kMallory)).signAlive(m);
    return Alive{m};
  };
  Member evil = signedMemberOf(kMallory, 1);
  evil.name = "x\" 1\nqmesh_mesh_members{state=\"alive\"} 999";
  Member named = signedMemberOf(kMallory, 2);
  named.address = "mallory.example.com:7946";
  say({signedAs(evil), signedAs(named)});
  EXPECT_EQ(engine_.stats().unusableRecords, 2u);
  EXPECT_EQ(held(kMallory).incarnation, 0u);
  EXPECT_EQ(held(kMallory).name, signedMemberOf(kMallory).name);
  EXPECT_EQ(engine_.stats().badSignature, 0u);
}

TEST_F(HostileMemberTest, AnswersAPushPullOnlyAtTheSendersSignedAddress) {
  // Replies are whole-state push-pulls: pointed at a third party they would make us a
  // reflector. Mallory asks from elsewhere (over TCP the frame's address is hers to write);
  // a key holder we hold no record of asks too.
  auto victim = net_.attach("10.0.0.66:7946");
  int victimGot = 0, malloryGot = 0;
  auto reliableTo = [](int& n) {
    return [&n](const Address&, std::span<const uint8_t> d) { n += !d.empty() && d[0] == Envelope::kReliableVersion; };
  };
  victim->setReceiveHandler(reliableTo(victimGot));
  mallory_->setReceiveHandler(reliableTo(malloryGot));
  Envelope stranger{keyring_, idOf(77), 1, Channel::kReliable};
  Envelope malloryReliable{keyring_, identityOf(kMallory).id(), 1, Channel::kReliable};
  victim->sendReliable(self_.address, *malloryReliable.seal(encodePacket({SyncRequest{true}})));
  victim->sendReliable(self_.address, *stranger.seal(encodePacket({SyncRequest{true}})));
  run(10ms);
  EXPECT_EQ(victimGot, 0);
  EXPECT_EQ(malloryGot, 1);
  EXPECT_EQ(engine_.stats().syncRepliesRefused, 1u);
}

}  // namespace
}  // namespace qmesh::membership
