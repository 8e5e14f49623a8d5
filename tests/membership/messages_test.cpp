#include "router/membership/messages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "router/membership/envelope.h"
#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using test::idOf;
using test::memberOf;

Signature sigOf(uint8_t b) {
  Signature s;
  s.fill(b);
  return s;
}

std::vector<Message> oneOfEach() {
  Member withMeta = memberOf(7, 3);
  withMeta.meta = {1, 2, 3, 0, 255};
  withMeta.signature = sigOf(0xA1);
  Member suspect = memberOf(8, 9, MemberState::kSuspect);
  suspect.signedIncarnation = 7;  // suspected at a newer incarnation than its last record
  suspect.signature = sigOf(0xA2);
  Member left = memberOf(10, 4, MemberState::kLeft);
  left.signedIncarnation = 3;
  left.signature = sigOf(0xA3);
  left.leaveSignature = sigOf(0xA4);
  return {Ping{42, idOf(1)},
          PingReq{43, idOf(2), "10.0.0.2:7946"},
          Ack{44},
          Suspect{idOf(3), 5, idOf(4)},
          Alive{withMeta},
          Dead{idOf(5), 6, idOf(6)},
          Leave{idOf(9), 10, sigOf(0xA5)},
          SyncRequest{false},
          SyncState{suspect},
          SyncState{left}};
}

TEST(Messages, RoundTripsEveryMessageTypeInOnePacket) {
  const auto messages = oneOfEach();
  auto decoded = decodePacket(encodePacket(messages));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->messages, messages);
  EXPECT_EQ(decoded->unknownSkipped, 0u);
}

TEST(Messages, TypeNumbersArePartOfTheProtocol) {
  // Renumbering breaks mixed-version meshes: these values must never change.
  EXPECT_EQ(encodeMessage(Ping{})[0], 1);
  EXPECT_EQ(encodeMessage(PingReq{})[0], 2);
  EXPECT_EQ(encodeMessage(Ack{})[0], 3);
  EXPECT_EQ(encodeMessage(Suspect{})[0], 4);
  EXPECT_EQ(encodeMessage(Alive{})[0], 5);
  EXPECT_EQ(encodeMessage(Dead{})[0], 6);
  EXPECT_EQ(encodeMessage(Leave{})[0], 7);
  EXPECT_EQ(encodeMessage(SyncRequest{})[0], 8);
  EXPECT_EQ(encodeMessage(SyncState{})[0], 9);
}

TEST(Messages, SkipsFramesOfUnknownNewerTypes) {
  std::vector<uint8_t> packet = {200, 0, 3, 9, 9, 9};  // type 200, 3-byte body
  encodeMessage(Ack{7}, packet);
  auto decoded = decodePacket(packet);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->unknownSkipped, 1u);
  ASSERT_EQ(decoded->messages.size(), 1u);
  EXPECT_EQ(std::get<Ack>(decoded->messages[0]).seq, 7u);
}

TEST(Messages, RejectsEveryTruncationThatCutsAFrame) {
  const auto messages = oneOfEach();
  std::vector<std::size_t> boundaries{0};
  std::vector<uint8_t> full;
  for (const Message& m : messages) {
    encodeMessage(m, full);
    boundaries.push_back(full.size());
  }
  for (std::size_t len = 1; len < full.size(); ++len) {
    auto decoded = decodePacket(std::span(full).first(len));
    const bool atBoundary = std::find(boundaries.begin(), boundaries.end(), len) != boundaries.end();
    EXPECT_EQ(decoded.ok(), atBoundary) << "prefix length " << len;
  }
}

TEST(Messages, RejectsEmptyPacket) { EXPECT_FALSE(decodePacket({}).ok()); }

TEST(Messages, RejectsTrailingBytesInsideABody) {
  std::vector<uint8_t> packet = encodeMessage(Ack{1});
  packet[2] += 1;  // body length one longer than an Ack
  packet.push_back(0);
  EXPECT_FALSE(decodePacket(packet).ok());
}

TEST(Messages, RejectsUnknownMemberState) {
  auto packet = encodeMessage(SyncState{memberOf(1)});
  packet[3 + 32 + 4] = 4;  // state byte after id and incarnation
  EXPECT_FALSE(decodePacket(packet).ok());
}

TEST(Messages, RejectsASyncRecordSignedAfterItsState) {
  Member m = memberOf(1, 2, MemberState::kSuspect);
  m.signedIncarnation = 3;  // only others' suspicions move the state past the record
  EXPECT_FALSE(decodePacket(encodeMessage(SyncState{m})).ok());
  Member alive = memberOf(1, 2);
  alive.signedIncarnation = 1;  // an alive member's state is its record
  EXPECT_FALSE(decodePacket(encodeMessage(SyncState{alive})).ok());
}

TEST(Messages, AliveCarriesItsIncarnationAsTheSignedOne) {
  Member m = memberOf(1, 6);
  m.signedIncarnation = 0;  // ignored on the wire: an alive is its own record
  auto decoded = decodePacket(encodeMessage(Alive{m}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<Alive>(decoded->messages[0]).member.signedIncarnation, 6u);
}

TEST(Messages, RejectsNameLongerThanTheLimit) {
  Member m = memberOf(1);
  m.name = std::string(kMaxNameBytes + 1, 'x');  // encodable (str8) but over the limit
  EXPECT_FALSE(decodePacket(encodeMessage(Alive{m})).ok());
}

TEST(Messages, SurvivesRandomGarbageWithoutCrashing) {
  std::mt19937 gen(1234);
  std::size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> junk(gen() % 200);
    for (auto& b : junk) b = static_cast<uint8_t>(gen());
    if (decodePacket(junk).ok()) ++accepted;
  }
  // Mostly rejected; the point is that ASan/UBSan see no over-read on any of them.
  EXPECT_LT(accepted, 20000u / 2);
}

TEST(Messages, SurvivesBitFlipsOfAValidPacket) {
  const auto messages = oneOfEach();
  std::vector<std::size_t> frameStarts;
  std::vector<uint8_t> packet;
  for (const Message& m : messages) {
    frameStarts.push_back(packet.size());
    encodeMessage(m, packet);
  }
  // Whatever the decoder accepts, it read faithfully: the messages it returns encode back to
  // exactly the bytes it was given, so no field was misread, clamped or left unread. The one
  // exception is a type byte flipped to a type this build does not know, which drops that
  // frame alone (its length is intact) and keeps every other message.
  std::size_t accepted = 0, rejected = 0;
  for (std::size_t i = 0; i < packet.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = packet;
      copy[i] ^= static_cast<uint8_t>(1 << bit);
      SCOPED_TRACE("byte " + std::to_string(i) + " bit " + std::to_string(bit));
      const auto decoded = decodePacket(copy);
      if (!decoded.ok()) {
        ++rejected;
        continue;
      }
      ++accepted;
      if (decoded->unknownSkipped == 0) {
        EXPECT_EQ(encodePacket(decoded->messages), copy);
        continue;
      }
      const auto frame = std::find(frameStarts.begin(), frameStarts.end(), i);
      ASSERT_NE(frame, frameStarts.end()) << "a frame was skipped but the flip is not in a type byte";
      auto expected = messages;
      expected.erase(expected.begin() + (frame - frameStarts.begin()));
      EXPECT_EQ(decoded->messages, expected);
      EXPECT_EQ(decoded->unknownSkipped, 1u);
    }
  // Most flips land in ids, sequence numbers and signatures, which no decoder can check; the
  // lengths, type bytes, state and flags reject the rest.
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(rejected, 0u);
}

TEST(Messages, LargestMemberRecordFitsInOneSealedDatagram) {
  // Every field at its limit, both signatures (a member that left), behind the sync header
  // that opens a datagram of the datagram-only sync: the worst single record on the wire.
  Member m = memberOf(1, 9, MemberState::kLeft);
  m.name = std::string(kMaxNameBytes, 'n');
  m.address = std::string(kMaxAddressBytes, 'a');
  m.meta.assign(kMaxMetaBytes, 0xAB);
  m.signedIncarnation = 8;
  m.signature = sigOf(1);
  m.leaveSignature = sigOf(2);
  const auto worst = encodePacket({SyncRequest{true}, SyncState{m}});
  EXPECT_EQ(worst.size(), 4u + 1136);
  MeshKey key;
  key.fill(3);
  Keyring keyring(key);
  Envelope sender(keyring, idOf(1), 1), receiver(keyring, idOf(2), 1);
  auto sealed = sender.seal(worst);
  ASSERT_TRUE(sealed) << "a maximal record must fit in one sealed datagram";
  EXPECT_LE(sealed->size(), kMaxDatagram);
  auto opened = receiver.open(*sealed);
  ASSERT_TRUE(opened);
  auto decoded = decodePacket(opened->plaintext);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<SyncState>(decoded->messages[1]).member, m);
  // And as an alive claim riding on a ping.
  Member alive = m;
  alive.state = MemberState::kAlive;
  alive.incarnation = alive.signedIncarnation;
  EXPECT_TRUE(sender.seal(encodePacket({Ping{1, idOf(2)}, Alive{alive}})));
}

TEST(Messages, ValidateMemberExplainsWhichLimitIsExceeded) {
  Member m = memberOf(1);
  EXPECT_TRUE(validateMember(m).ok());
  m.meta.assign(kMaxMetaBytes + 1, 0);
  auto status = validateMember(m);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("metadata"), std::string::npos);
  m.meta.clear();
  m.name = std::string(kMaxNameBytes + 1, 'x');
  EXPECT_FALSE(validateMember(m).ok());
}

}  // namespace
}  // namespace qmesh::membership
