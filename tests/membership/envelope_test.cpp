#include "router/membership/envelope.h"

#include <gtest/gtest.h>

#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using test::idOf;
using test::keyOf;

std::vector<uint8_t> bytesOf(const std::string& s) { return {s.begin(), s.end()}; }

class EnvelopeTest : public ::testing::Test {
 protected:
  Keyring aliceKeys{keyOf(1)};
  Keyring bobKeys{keyOf(1)};
  Envelope alice{aliceKeys, idOf(1), 100};
  Envelope bob{bobKeys, idOf(2), 200};
};

TEST_F(EnvelopeTest, OpensWhatItSealsAndNamesTheSender) {
  auto sealed = alice.seal(bytesOf("ping"));
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), 4 + Envelope::kOverhead);
  EXPECT_EQ((*sealed)[0], Envelope::kVersion);
  auto opened = bob.open(*sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->sender, idOf(1));
  EXPECT_EQ(opened->plaintext, bytesOf("ping"));
  EXPECT_EQ(bob.stats().opened, 1u);
}

TEST_F(EnvelopeTest, LargestPlaintextMakesExactlyA1400ByteDatagram) {
  EXPECT_EQ(Envelope::kOverhead, 89u);
  std::vector<uint8_t> big(Envelope::kMaxPlaintext, 7);
  auto sealed = alice.seal(big);
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), kMaxDatagram);
  EXPECT_TRUE(bob.open(*sealed));
}

TEST_F(EnvelopeTest, RefusesToSealBeyondTheDatagramLimit) {
  std::vector<uint8_t> tooBig(Envelope::kMaxPlaintext + 1, 7);
  EXPECT_FALSE(alice.seal(tooBig));
  EXPECT_EQ(alice.stats().tooLarge, 1u);
}

TEST_F(EnvelopeTest, DropsAPacketWithAnyByteTamperedAndCountsIt) {
  const auto sealed = *alice.seal(bytesOf("suspect node 3"));
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    auto copy = sealed;
    copy[i] ^= 0x01;
    EXPECT_FALSE(bob.open(copy)) << "byte " << i;
  }
  // The version byte is checked first; every other flip fails authentication.
  EXPECT_EQ(bob.stats().badVersion, 1u);
  EXPECT_EQ(bob.stats().authFailed, sealed.size() - 1);
  EXPECT_EQ(bob.stats().opened, 0u);
}

TEST_F(EnvelopeTest, DropsEveryTruncationAndCountsIt) {
  const auto sealed = *alice.seal(bytesOf("alive"));
  for (std::size_t len = 0; len < sealed.size(); ++len)
    EXPECT_FALSE(bob.open(std::span(sealed).first(len))) << len;
  EXPECT_EQ(bob.stats().rejected(), sealed.size());
  EXPECT_EQ(bob.stats().opened, 0u);
}

TEST_F(EnvelopeTest, DropsAReplayedPacketAndCountsIt) {
  const auto sealed = *alice.seal(bytesOf("leave"));
  EXPECT_TRUE(bob.open(sealed));
  EXPECT_FALSE(bob.open(sealed));
  EXPECT_EQ(bob.stats().replayed, 1u);
}

TEST_F(EnvelopeTest, AcceptsPacketsReorderedWithinTheWindow) {
  std::vector<std::vector<uint8_t>> packets;
  for (int i = 0; i < 100; ++i) packets.push_back(*alice.seal(bytesOf("x")));
  for (int i = 99; i >= 0; --i) EXPECT_TRUE(bob.open(packets[i])) << i;
  EXPECT_EQ(bob.stats().replayed, 0u);
}

TEST_F(EnvelopeTest, DropsPacketsSealedUnderAnotherMeshKey) {
  Keyring otherKeys(keyOf(9));
  Envelope mallory(otherKeys, idOf(3), 1);
  EXPECT_FALSE(bob.open(*mallory.seal(bytesOf("join me"))));
  EXPECT_EQ(bob.stats().authFailed, 1u);
}

TEST_F(EnvelopeTest, OpensUnderAnyInstalledKeyDuringRotation) {
  // Step 1 on bob only: install the new key. Alice still seals with the old one.
  bobKeys.install(keyOf(2));
  EXPECT_TRUE(bob.open(*alice.seal(bytesOf("a"))));
  // Step 2 on alice: switch. Bob opens it with the secondary key.
  aliceKeys.install(keyOf(2));
  ASSERT_TRUE(aliceKeys.use(keyOf(2)).ok());
  EXPECT_TRUE(bob.open(*alice.seal(bytesOf("b"))));
  // Step 3: old key removed everywhere; new traffic still flows.
  ASSERT_TRUE(bobKeys.use(keyOf(2)).ok());
  ASSERT_TRUE(bobKeys.remove(keyOf(1)).ok());
  EXPECT_TRUE(bob.open(*alice.seal(bytesOf("c"))));
  EXPECT_EQ(bob.stats().rejected(), 0u);
}

TEST_F(EnvelopeTest, AcceptsARestartedSenderAndRejectsReplaysAndOlderBoots) {
  const auto before = *alice.seal(bytesOf("old life"));
  EXPECT_TRUE(bob.open(before));
  Envelope restarted(aliceKeys, idOf(1), 101);  // same node, newer boot epoch, counter 0
  EXPECT_TRUE(bob.open(*restarted.seal(bytesOf("new life"))));
  EXPECT_FALSE(bob.open(before));  // the previous boot's replays stay replays
  // A fresh, validly sealed packet from a boot before any we heard is refused.
  Envelope older(aliceKeys, idOf(1), 99);
  EXPECT_FALSE(bob.open(*older.seal(bytesOf("from epoch 99"))));
  EXPECT_EQ(bob.stats().replayed, 2u);
}

TEST_F(EnvelopeTest, DropsOurOwnPacketsReflectedBackAtUs) {
  EXPECT_FALSE(alice.open(*alice.seal(bytesOf("echo"))));
  EXPECT_EQ(alice.stats().reflected, 1u);
}

TEST_F(EnvelopeTest, ForgedHeaderCannotAdvanceTheReplayWindow) {
  auto forged = *alice.seal(bytesOf("x"));
  forged[1 + 32 + 8 + 0] = 0x7f;  // counter pushed far ahead, breaks authentication
  EXPECT_FALSE(bob.open(forged));
  EXPECT_TRUE(bob.open(*alice.seal(bytesOf("next"))));  // window was not moved
}

TEST_F(EnvelopeTest, ForgottenSenderKeepsItsOldPacketsAndOldBootRejected) {
  const auto old = *alice.seal(bytesOf("before"));
  const auto last = *alice.seal(bytesOf("last"));
  ASSERT_TRUE(bob.open(old));
  ASSERT_TRUE(bob.open(last));
  EXPECT_EQ(bob.peerWindows(), 1u);
  bob.forgetPeer(idOf(1));
  EXPECT_EQ(bob.peerWindows(), 0u);
  EXPECT_FALSE(bob.open(old));   // replays of that boot stay replays
  EXPECT_FALSE(bob.open(last));
  Envelope previousBoot(aliceKeys, idOf(1), 99);
  EXPECT_FALSE(bob.open(*previousBoot.seal(bytesOf("older boot"))));
  EXPECT_EQ(bob.stats().replayed, 3u);
  EXPECT_TRUE(bob.open(*alice.seal(bytesOf("same boot, new packet"))));
  EXPECT_EQ(bob.peerWindows(), 1u);
  bob.forgetPeer(idOf(1));
  Envelope restarted(aliceKeys, idOf(1), 101);
  EXPECT_TRUE(bob.open(*restarted.seal(bytesOf("new boot"))));
}

TEST_F(EnvelopeTest, ReliableChannelHasItsOwnKeyFormatAndNoDatagramLimit) {
  Envelope aliceReliable(aliceKeys, idOf(1), 100, Channel::kReliable);
  Envelope bobReliable(bobKeys, idOf(2), 200, Channel::kReliable);
  std::vector<uint8_t> big(200000, 5);
  auto sealed = aliceReliable.seal(big);
  ASSERT_TRUE(sealed);
  EXPECT_EQ((*sealed)[0], Envelope::kReliableVersion);
  auto opened = bobReliable.open(*sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->plaintext, big);
  EXPECT_FALSE(bobReliable.open(*sealed));  // replay-protected too
  EXPECT_EQ(bobReliable.stats().replayed, 1u);
  // Neither channel opens the other's packets, even with the format byte swapped.
  auto small = *aliceReliable.seal(bytesOf("state"));
  EXPECT_FALSE(bob.open(small));
  EXPECT_EQ(bob.stats().badVersion, 1u);
  small[0] = Envelope::kVersion;
  EXPECT_FALSE(bob.open(small));
  EXPECT_EQ(bob.stats().authFailed, 1u);
  auto datagram = *alice.seal(bytesOf("ping"));
  datagram[0] = Envelope::kReliableVersion;
  EXPECT_FALSE(bobReliable.open(datagram));
  EXPECT_EQ(bobReliable.stats().authFailed, 1u);
  EXPECT_FALSE(aliceReliable.seal(std::vector<uint8_t>(Envelope::kMaxReliablePlaintext + 1, 0)));
  EXPECT_EQ(aliceReliable.stats().tooLarge, 1u);
}

// A whole reliable message (from a transport that does not stream) is opened piece by piece
// like a streamed one: cut short, reordered or with bytes after its end, it is refused.
TEST_F(EnvelopeTest, ReliableMessageCutReorderedOrExtendedIsRefused) {
  Envelope aliceReliable(aliceKeys, idOf(1), 100, Channel::kReliable);
  Envelope bobReliable(bobKeys, idOf(2), 200, Channel::kReliable);
  const std::vector<uint8_t> big(3 * kReliableChunk, 9);
  auto cut = *aliceReliable.seal(big);
  cut.resize(2 * kReliableChunk);
  EXPECT_FALSE(bobReliable.open(cut));
  EXPECT_EQ(bobReliable.stats().truncated, 1u);
  auto swapped = *aliceReliable.seal(big);
  std::swap_ranges(swapped.begin(), swapped.begin() + 10, swapped.begin() + kReliableChunk + 10);
  EXPECT_FALSE(bobReliable.open(swapped));
  auto reordered = *aliceReliable.seal(big);
  std::swap_ranges(reordered.begin() + kReliableChunk, reordered.begin() + 2 * kReliableChunk,
                   reordered.begin() + 2 * kReliableChunk);
  EXPECT_FALSE(bobReliable.open(reordered));
  EXPECT_EQ(bobReliable.stats().rejected(), 3u);
  auto extended = *aliceReliable.seal(bytesOf("state"));
  const auto tail = *aliceReliable.seal(bytesOf("more"));
  extended.insert(extended.end(), tail.begin(), tail.end());  // in the same piece as the FINAL chunk
  EXPECT_FALSE(bobReliable.open(extended));
  EXPECT_EQ(bobReliable.stats().rejected(), 4u);
  EXPECT_TRUE(bobReliable.open(*aliceReliable.seal(big)));
  EXPECT_EQ(bobReliable.stats().opened, 1u);
}

}  // namespace
}  // namespace qmesh::membership
