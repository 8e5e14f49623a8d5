#include "router/membership/member_table.h"

#include <gtest/gtest.h>

#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using test::idOf;
using test::memberOf;

constexpr uint8_t kSelfId = 1;
constexpr uint8_t kPeer = 2;
constexpr uint8_t kAccuser = 3;

enum class Claim { kAlive, kSuspect, kDead, kLeave };

MergeResult apply(MemberTable& t, Claim c, uint8_t subject, uint32_t inc) {
  switch (c) {
    case Claim::kAlive: return t.applyAlive(memberOf(subject, inc));
    case Claim::kSuspect: return t.applySuspect(Suspect{idOf(subject), inc, idOf(kAccuser)});
    case Claim::kDead: return t.applyDead(Dead{idOf(subject), inc, idOf(kAccuser)});
    case Claim::kLeave: return t.applyLeave(Leave{idOf(subject), inc});
  }
  return {};
}

// Puts the peer into `state` at incarnation `inc` through the public merge rules.
MemberTable tableWithPeer(MemberState state, uint32_t inc) {
  MemberTable t(memberOf(kSelfId));
  t.applyAlive(memberOf(kPeer, inc));
  if (state == MemberState::kSuspect) t.applySuspect(Suspect{idOf(kPeer), inc, idOf(kAccuser)});
  if (state == MemberState::kDead) t.applyDead(Dead{idOf(kPeer), inc, idOf(kAccuser)});
  if (state == MemberState::kLeft) t.applyLeave(Leave{idOf(kPeer), inc});
  return t;
}

struct MergeCase {
  const char* rule;
  MemberState before;
  uint32_t beforeInc;
  Claim claim;
  uint32_t claimInc;
  MergeOutcome outcome;
  MemberState after;
  uint32_t afterInc;
};

using S = MemberState;
using O = MergeOutcome;

const MergeCase kMergeCases[] = {
    {"alive needs a newer incarnation", S::kAlive, 5, Claim::kAlive, 5, O::kIgnored, S::kAlive, 5},
    {"newer alive applies", S::kAlive, 5, Claim::kAlive, 6, O::kApplied, S::kAlive, 6},
    {"stale alive ignored", S::kAlive, 5, Claim::kAlive, 4, O::kIgnored, S::kAlive, 5},
    {"alive at same inc does not clear suspect", S::kSuspect, 5, Claim::kAlive, 5, O::kIgnored, S::kSuspect, 5},
    {"refutation clears suspect", S::kSuspect, 5, Claim::kAlive, 6, O::kApplied, S::kAlive, 6},
    {"alive at same inc does not revive dead", S::kDead, 5, Claim::kAlive, 5, O::kIgnored, S::kDead, 5},
    {"newer alive revives dead (rejoin)", S::kDead, 5, Claim::kAlive, 6, O::kApplied, S::kAlive, 6},
    {"newer alive brings a left member back", S::kLeft, 5, Claim::kAlive, 6, O::kApplied, S::kAlive, 6},
    {"suspect at same inc applies", S::kAlive, 5, Claim::kSuspect, 5, O::kApplied, S::kSuspect, 5},
    {"suspect above the signed record is ignored", S::kAlive, 5, Claim::kSuspect, 7, O::kIgnored, S::kAlive, 5},
    {"stale suspect ignored", S::kAlive, 5, Claim::kSuspect, 4, O::kIgnored, S::kAlive, 5},
    {"second suspect is a confirmation", S::kSuspect, 5, Claim::kSuspect, 5, O::kConfirmation, S::kSuspect, 5},
    {"suspect of a suspect above its signed record is ignored", S::kSuspect, 5, Claim::kSuspect, 6, O::kIgnored, S::kSuspect, 5},
    {"dead above the signed record is ignored", S::kAlive, 5, Claim::kDead, 6, O::kIgnored, S::kAlive, 5},
    {"dead of a suspect above its signed record is ignored", S::kSuspect, 5, Claim::kDead, 9, O::kIgnored, S::kSuspect, 5},
    {"suspect does not touch dead", S::kDead, 5, Claim::kSuspect, 6, O::kIgnored, S::kDead, 5},
    {"dead at same inc applies to alive", S::kAlive, 5, Claim::kDead, 5, O::kApplied, S::kDead, 5},
    {"dead applies to suspect", S::kSuspect, 5, Claim::kDead, 5, O::kApplied, S::kDead, 5},
    {"stale dead ignored", S::kAlive, 5, Claim::kDead, 4, O::kIgnored, S::kAlive, 5},
    {"dead twice is ignored", S::kDead, 5, Claim::kDead, 6, O::kIgnored, S::kDead, 5},
    {"leave applies to alive", S::kAlive, 5, Claim::kLeave, 6, O::kApplied, S::kLeft, 6},
    {"leave upgrades dead", S::kDead, 5, Claim::kLeave, 5, O::kApplied, S::kLeft, 5},
    {"stale leave ignored", S::kAlive, 5, Claim::kLeave, 4, O::kIgnored, S::kAlive, 5},
    {"leave twice is ignored", S::kLeft, 5, Claim::kLeave, 6, O::kIgnored, S::kLeft, 5},
};

TEST(MemberTable, MergeRulesFollowIncarnationThenStatePrecedence) {
  for (const MergeCase& c : kMergeCases) {
    MemberTable t = tableWithPeer(c.before, c.beforeInc);
    ASSERT_EQ(t.find(idOf(kPeer))->state, c.before) << c.rule;
    const MergeResult r = apply(t, c.claim, kPeer, c.claimInc);
    EXPECT_EQ(r.outcome, c.outcome) << c.rule;
    EXPECT_EQ(t.find(idOf(kPeer))->state, c.after) << c.rule;
    EXPECT_EQ(t.find(idOf(kPeer))->incarnation, c.afterInc) << c.rule;
    if (r.outcome == O::kApplied) {
      EXPECT_EQ(r.previous, c.before) << c.rule;
    }
  }
}

struct RefuteCase {
  const char* rule;
  Claim claim;
  uint32_t claimInc;
  MergeOutcome outcome;
  uint32_t selfIncAfter;  // self starts at 3
};

const RefuteCase kRefuteCases[] = {
    {"suspect about us at our inc is refuted", Claim::kSuspect, 3, O::kRefuted, 4},
    {"suspect about us above our inc is ignored (we never signed it)", Claim::kSuspect, 9, O::kIgnored, 3},
    {"dead about us above our inc is ignored", Claim::kDead, 4, O::kIgnored, 3},
    {"stale suspect about us is ignored", Claim::kSuspect, 2, O::kIgnored, 3},
    {"dead about us is refuted", Claim::kDead, 3, O::kRefuted, 4},
    {"leave about us (not leaving) is refuted", Claim::kLeave, 3, O::kRefuted, 4},
    {"our own alive echoed back is ignored", Claim::kAlive, 3, O::kIgnored, 3},
    {"a newer alive of us (we restarted) is outbid", Claim::kAlive, 7, O::kRefuted, 8},
};

TEST(MemberTable, ClaimsAboutUsAreRefutedByBumpingIncarnation) {
  for (const RefuteCase& c : kRefuteCases) {
    MemberTable t(memberOf(kSelfId, 3));
    const MergeResult r = apply(t, c.claim, kSelfId, c.claimInc);
    EXPECT_EQ(r.outcome, c.outcome) << c.rule;
    EXPECT_EQ(t.self().incarnation, c.selfIncAfter) << c.rule;
    EXPECT_EQ(t.self().state, MemberState::kAlive) << c.rule;
  }
}

TEST(MemberTable, DifferentRecordOfUsAtOurIncarnationIsRefuted) {
  MemberTable t(memberOf(kSelfId, 3));
  Member forged = memberOf(kSelfId, 3);
  forged.address = "10.9.9.9:1";
  EXPECT_EQ(t.applyAlive(forged).outcome, O::kRefuted);
  EXPECT_EQ(t.self().incarnation, 4u);
  EXPECT_EQ(t.self().address, memberOf(kSelfId).address);
}

TEST(MemberTable, LeavingNodeDoesNotRefute) {
  MemberTable t(memberOf(kSelfId, 3));
  t.leaveSelf();
  EXPECT_EQ(t.self().state, MemberState::kLeft);
  EXPECT_EQ(t.self().incarnation, 4u);
  EXPECT_EQ(t.applyDead(Dead{idOf(kSelfId), 4, idOf(kAccuser)}).outcome, O::kIgnored);
  EXPECT_EQ(t.self().state, MemberState::kLeft);
}

TEST(MemberTable, ClaimsAboutUnknownMembersOtherThanAliveAreIgnored) {
  MemberTable t(memberOf(kSelfId));
  EXPECT_EQ(apply(t, Claim::kSuspect, 9, 1).outcome, O::kIgnored);
  EXPECT_EQ(apply(t, Claim::kDead, 9, 1).outcome, O::kIgnored);
  EXPECT_EQ(apply(t, Claim::kLeave, 9, 1).outcome, O::kIgnored);
  EXPECT_EQ(t.find(idOf(9)), nullptr);
  const MergeResult r = apply(t, Claim::kAlive, 9, 0);
  EXPECT_EQ(r.outcome, O::kApplied);
  EXPECT_TRUE(r.isNew);
}

TEST(MemberTable, NewerAliveReplacesAddressAndMeta) {
  MemberTable t(memberOf(kSelfId));
  t.applyAlive(memberOf(kPeer, 1));
  Member moved = memberOf(kPeer, 2);
  moved.address = "10.1.1.1:9";
  moved.meta = {1, 2};
  t.applyAlive(moved);
  EXPECT_EQ(t.find(idOf(kPeer))->address, "10.1.1.1:9");
  EXPECT_EQ(t.find(idOf(kPeer))->meta, (std::vector<uint8_t>{1, 2}));
}

TEST(MemberTable, LiveCountTracksAliveAndSuspectIncludingSelf) {
  MemberTable t(memberOf(kSelfId));
  for (uint8_t n = 2; n <= 5; ++n) t.applyAlive(memberOf(n));
  EXPECT_EQ(t.liveCount(), 5u);
  t.applySuspect(Suspect{idOf(2), 0, idOf(kAccuser)});
  EXPECT_EQ(t.liveCount(), 5u);
  t.applyDead(Dead{idOf(2), 0, idOf(kAccuser)});
  t.applyLeave(Leave{idOf(3), 1});
  EXPECT_EQ(t.liveCount(), 3u);
  t.applyAlive(memberOf(2, 1));  // back from the dead
  EXPECT_EQ(t.liveCount(), 4u);
  EXPECT_EQ(t.liveOthers(), (std::vector<NodeId>{idOf(2), idOf(4), idOf(5)}));
}

TEST(MemberTable, SayWhetherAClaimCouldChangeAnythingExactlyAsTheMergeDoes) {
  // The engine skips signature checks for claims these call no-ops: they must agree with
  // the merge, for every case of the tables above.
  for (const MergeCase& c : kMergeCases) {
    MemberTable t = tableWithPeer(c.before, c.beforeInc);
    bool predicted = true;
    if (c.claim == Claim::kAlive) predicted = t.aliveWouldApply(memberOf(kPeer, c.claimInc));
    if (c.claim == Claim::kLeave) predicted = t.leaveWouldApply(Leave{idOf(kPeer), c.claimInc});
    if (c.claim == Claim::kAlive || c.claim == Claim::kLeave) {
      EXPECT_EQ(predicted, apply(t, c.claim, kPeer, c.claimInc).outcome != O::kIgnored) << c.rule;
    }
  }
  for (const RefuteCase& c : kRefuteCases) {
    MemberTable t(memberOf(kSelfId, 3));
    bool predicted = true;
    if (c.claim == Claim::kAlive) predicted = t.aliveWouldApply(memberOf(kSelfId, c.claimInc));
    if (c.claim == Claim::kLeave) predicted = t.leaveWouldApply(Leave{idOf(kSelfId), c.claimInc});
    if (c.claim == Claim::kAlive || c.claim == Claim::kLeave) {
      EXPECT_EQ(predicted, c.outcome != O::kIgnored) << c.rule;
    }
  }
  MemberTable t(memberOf(kSelfId));
  EXPECT_TRUE(t.aliveWouldApply(memberOf(9)));  // a newcomer
  EXPECT_FALSE(t.leaveWouldApply(Leave{idOf(9), 1}));  // a stranger's goodbye
}

TEST(MemberTable, KeepsTheSignedRecordWhenALeaveMovesTheStatePastIt) {
  MemberTable t(memberOf(kSelfId));
  Member peer = memberOf(kPeer, 2);
  peer.signature.fill(7);
  t.applyAlive(peer);
  t.applySuspect(Suspect{idOf(kPeer), 2, idOf(kAccuser)});
  Leave bye{idOf(kPeer), 6, {}};
  bye.signature.fill(8);
  t.applyLeave(bye);
  const Member* m = t.find(idOf(kPeer));
  EXPECT_EQ(m->incarnation, 6u);
  EXPECT_EQ(m->leaveSignature, bye.signature);
  EXPECT_EQ(m->signedIncarnation, 2u);
  EXPECT_EQ(m->signature, peer.signature);
}

TEST(MemberTable, RemovesOnlyDeadOrLeftMembersAndNeverItself) {
  MemberTable t(memberOf(kSelfId));
  for (uint8_t n = 2; n <= 4; ++n) t.applyAlive(memberOf(n));
  t.applyDead(Dead{idOf(2), 0, idOf(kAccuser)});
  t.applyLeave(Leave{idOf(3), 1});
  EXPECT_FALSE(t.remove(idOf(kSelfId)));
  EXPECT_FALSE(t.remove(idOf(4)));
  EXPECT_FALSE(t.remove(idOf(9)));
  EXPECT_TRUE(t.remove(idOf(2)));
  EXPECT_TRUE(t.remove(idOf(3)));
  EXPECT_EQ(t.all().size(), 2u);
  EXPECT_EQ(t.liveCount(), 2u);
  // Forgotten: a stale dead verdict cannot bring it back, a new alive can.
  EXPECT_EQ(t.applyDead(Dead{idOf(2), 0, idOf(kAccuser)}).outcome, O::kIgnored);
  EXPECT_TRUE(t.applyAlive(memberOf(2, 0)).isNew);
}

TEST(MemberTable, UpdatingOwnMetaBumpsIncarnation) {
  MemberTable t(memberOf(kSelfId, 2));
  const Member& me = t.updateSelfMeta({9, 9});
  EXPECT_EQ(me.incarnation, 3u);
  EXPECT_EQ(me.meta, (std::vector<uint8_t>{9, 9}));
}

}  // namespace
}  // namespace qmesh::membership
