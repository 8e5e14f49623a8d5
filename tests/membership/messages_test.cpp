#include "router/membership/messages.h"

#include <gtest/gtest.h>

#include <random>

#include "router/membership/envelope.h"
#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using test::idOf;
using test::memberOf;

std::vector<Message> oneOfEach() {
  Member withMeta = memberOf(7, 3);
  withMeta.meta = {1, 2, 3, 0, 255};
  Member suspect = memberOf(8, 9, MemberState::kSuspect);
  return {Ping{42, idOf(1)},
          PingReq{43, idOf(2), "10.0.0.2:7946"},
          Ack{44},
          Suspect{idOf(3), 5, idOf(4)},
          Alive{withMeta},
          Dead{idOf(5), 6, idOf(6)},
          Leave{idOf(9), 10},
          SyncRequest{false},
          SyncState{suspect}};
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
  const auto packet = encodePacket(oneOfEach());
  for (std::size_t i = 0; i < packet.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = packet;
      copy[i] ^= static_cast<uint8_t>(1 << bit);
      (void)decodePacket(copy);
    }
}

TEST(Messages, LargestMemberRecordFitsInOneSealedDatagram) {
  Member m = memberOf(1);
  m.name = std::string(kMaxNameBytes, 'n');
  m.address = std::string(kMaxAddressBytes, 'a');
  m.meta.assign(kMaxMetaBytes, 0xAB);
  EXPECT_LE(encodeMessage(SyncState{m}).size(), Envelope::kMaxPlaintext);
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
