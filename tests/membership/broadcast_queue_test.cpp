#include "router/membership/broadcast_queue.h"

#include <gtest/gtest.h>

#include "router/membership/messages.h"
#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using test::idOf;

std::vector<uint8_t> leaveOf(uint8_t n, uint32_t inc = 0) { return encodeMessage(Leave{idOf(n), inc}); }

std::vector<Message> decodeAll(const std::vector<uint8_t>& bytes) {
  auto d = decodePacket(bytes);
  EXPECT_TRUE(d.ok());
  return d.ok() ? d->messages : std::vector<Message>{};
}

TEST(BroadcastQueue, RetransmitLimitIsLambdaTimesCeilLog10OfNPlusOne) {
  EXPECT_EQ(retransmitLimit(4, 1), 4);
  EXPECT_EQ(retransmitLimit(4, 9), 4);
  EXPECT_EQ(retransmitLimit(4, 10), 8);
  EXPECT_EQ(retransmitLimit(4, 100), 12);
  EXPECT_EQ(retransmitLimit(4, 1000), 16);
  EXPECT_EQ(retransmitLimit(3, 50), 6);
}

TEST(BroadcastQueue, NewerClaimReplacesQueuedClaimAboutSameMember) {
  BroadcastQueue q;
  q.enqueue(idOf(1), leaveOf(1, 1));
  q.enqueue(idOf(1), leaveOf(1, 2));
  EXPECT_EQ(q.size(), 1u);
  std::vector<uint8_t> out;
  q.fill(out, 1000, 10);
  auto msgs = decodeAll(out);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(std::get<Leave>(msgs[0]).incarnation, 2u);
}

TEST(BroadcastQueue, ClaimsLeaveAfterTheRetransmitLimit) {
  BroadcastQueue q;
  q.enqueue(idOf(1), leaveOf(1));
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> out;
    EXPECT_EQ(q.fill(out, 1000, 3), 1u);
    EXPECT_EQ(q.transmits(idOf(1)), i + 1 < 3 ? i + 1 : -1);
  }
  EXPECT_TRUE(q.empty());
}

TEST(BroadcastQueue, LeastTransmittedAndNewestClaimsGoFirst) {
  BroadcastQueue q;
  q.enqueue(idOf(1), leaveOf(1));
  std::vector<uint8_t> out;
  q.fill(out, 1000, 10);  // claim 1 sent once
  q.enqueue(idOf(2), leaveOf(2));
  q.enqueue(idOf(3), leaveOf(3));
  out.clear();
  const std::size_t oneClaim = leaveOf(1).size();
  q.fill(out, oneClaim, 10);
  auto msgs = decodeAll(out);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(std::get<Leave>(msgs[0]).id, idOf(3));  // never sent, and newest
}

TEST(BroadcastQueue, FillStaysWithinBudgetAndNeverRepeatsAClaimInOnePacket) {
  BroadcastQueue q;
  for (uint8_t n = 1; n <= 50; ++n) q.enqueue(idOf(n), leaveOf(n));
  const std::size_t claim = leaveOf(1).size();
  std::vector<uint8_t> out;
  const std::size_t appended = q.fill(out, claim * 10 + claim / 2, 100);
  EXPECT_EQ(appended, 10u);
  EXPECT_LE(out.size(), claim * 10 + claim / 2);
  auto msgs = decodeAll(out);
  std::set<NodeId> ids;
  for (const auto& m : msgs) ids.insert(std::get<Leave>(m).id);
  EXPECT_EQ(ids.size(), 10u);
}

TEST(BroadcastQueue, SmallerClaimFillsGapLeftByLargerOne) {
  BroadcastQueue q;
  Member big = test::memberOf(1);
  big.meta.assign(200, 1);
  q.enqueue(idOf(2), leaveOf(2));
  q.enqueue(idOf(1), encodeMessage(Alive{big}));  // newest: tried first, does not fit
  std::vector<uint8_t> out;
  EXPECT_EQ(q.fill(out, leaveOf(2).size() + 10, 10), 1u);
  EXPECT_EQ(std::get<Leave>(decodeAll(out)[0]).id, idOf(2));
}

}  // namespace
}  // namespace qmesh::membership
