// Replay state per sender under a member that forges sender ids and boot epochs: the real
// sender is never locked out, and memory stays bounded.
#include "router/membership/sender_windows.h"

#include <gtest/gtest.h>

#include <limits>

#include "router/membership/envelope.h"
#include "tests/membership/membership_test_util.h"
#include "tests/support/fake_clock.h"

namespace qmesh::membership {
namespace {

using namespace std::chrono_literals;
using test::idOf;

constexpr uint64_t kFarFuture = std::numeric_limits<uint64_t>::max() - 1;

NodeId senderNumber(uint32_t n) {
  NodeId id;
  for (int i = 0; i < 4; ++i) id.bytes[i] = static_cast<uint8_t>(n >> (8 * i));
  return id;
}

TEST(SenderWindows, AForgedFarFutureEpochDoesNotLockOutTheRealSender) {
  qmesh::test::FakeClock clock;
  SenderWindows w(clock);
  const NodeId victim = idOf(3);
  uint64_t counter = 0;
  ASSERT_TRUE(w.accept(victim, 100, counter++));
  // Mallory seals a packet under the victim's id with an epoch from the far future.
  EXPECT_TRUE(w.accept(victim, kFarFuture, 0));
  for (int second = 0; second < 60; ++second) {
    clock.advance(1s);
    EXPECT_TRUE(w.accept(victim, 100, counter++)) << "locked out after " << second << " s";
    EXPECT_TRUE(w.accept(victim, kFarFuture, static_cast<uint64_t>(second) + 1));  // she keeps at it
  }
  EXPECT_FALSE(w.accept(victim, 100, counter - 1));  // its window still rejects replays
}

TEST(SenderWindows, ARestartedSenderGetsInWhileAForgerHoldsTheOtherEpochs) {
  qmesh::test::FakeClock clock;
  SenderWindows w(clock);
  const NodeId victim = idOf(3);
  ASSERT_TRUE(w.accept(victim, 100, 0));
  ASSERT_TRUE(w.accept(victim, kFarFuture, 0));
  ASSERT_TRUE(w.accept(victim, kFarFuture - 1, 0));
  // The victim restarts (epoch 200): all slots are taken and its old epoch only just fell
  // silent, so it waits out the handover; no forged epoch can push it out after that.
  EXPECT_FALSE(w.accept(victim, 200, 0));
  for (int i = 1; i <= 10; ++i) {
    clock.advance(1s);
    w.accept(victim, kFarFuture, static_cast<uint64_t>(i));
    w.accept(victim, kFarFuture - 1, static_cast<uint64_t>(i));
  }
  EXPECT_TRUE(w.accept(victim, 200, 1));
  EXPECT_FALSE(w.accept(victim, 100, 5)) << "its previous boot got a slot back";
}

// Found by the envelope_open fuzzer: the sender spoke on its newer epoch, then a late packet
// of its older one arrived last; once the mesh forgot it, only the last heard epoch was
// remembered, and the newer epoch's packet opened a second time.
TEST(SenderWindows, AForgottenSendersEveryEpochStaysSpent) {
  qmesh::test::FakeClock clock;
  SenderWindows w(clock);
  const NodeId peer = idOf(4);
  ASSERT_TRUE(w.accept(peer, 1000, 2));
  ASSERT_TRUE(w.accept(peer, 1002, 1));  // restarted
  ASSERT_TRUE(w.accept(peer, 1000, 1));  // a late packet of the previous boot, heard last
  w.forget(peer);
  EXPECT_FALSE(w.accept(peer, 1002, 1)) << "a packet of the newer epoch opened twice";
  EXPECT_FALSE(w.accept(peer, 1000, 2));
  EXPECT_TRUE(w.accept(peer, 1002, 2)) << "the newer boot resumes above what was seen";
  EXPECT_FALSE(w.accept(peer, 999, 7)) << "a boot before every spent one is a past life";
}

TEST(SenderWindows, AFloodOfMadeUpSenderIdsStaysBounded) {
  qmesh::test::FakeClock clock;
  SenderWindows w(clock);
  const NodeId member = idOf(7);
  uint64_t counter = 0;
  for (uint32_t n = 0; n < SenderWindows::kMaxSenders * 3; ++n) {
    if (n % 1000 == 0) {
      ASSERT_TRUE(w.accept(member, 1, counter++));  // a member keeps talking
    }
    ASSERT_TRUE(w.accept(senderNumber(n + 1000), 1, 0));
  }
  EXPECT_EQ(w.senders(), SenderWindows::kMaxSenders);
  EXPECT_FALSE(w.accept(member, 1, counter - 1)) << "the live member's window was evicted";
}

TEST(SenderWindows, EnvelopeKeepsOpeningTheRealSendersPacketsAfterAForgedEpoch) {
  MeshKey key;
  key.fill(9);
  Keyring keys(key);
  qmesh::test::FakeClock clock;
  Envelope receiver(keys, idOf(2), 1, Channel::kDatagram, &clock);
  Envelope victim(keys, idOf(3), 100);
  Envelope forgery(keys, idOf(3), kFarFuture);  // Mallory, holding the key, writes id 3
  const std::vector<uint8_t> hello{1, 2, 3};
  ASSERT_TRUE(receiver.open(*victim.seal(hello)));
  ASSERT_TRUE(receiver.open(*forgery.seal(hello)));
  clock.advance(30s);
  EXPECT_TRUE(receiver.open(*victim.seal(hello)));
  EXPECT_EQ(receiver.stats().replayed, 0u);
}

}  // namespace
}  // namespace qmesh::membership
