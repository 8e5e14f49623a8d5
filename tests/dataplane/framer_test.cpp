// The record layer alone: frames are plain byte vectors here, so tampering, reordering,
// duplication and truncation are exact and deterministic.
#include "router/dataplane/framer.h"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>

#include <string>

#include "router/dataplane/errors.h"

namespace qmesh::dataplane {
namespace {

using Bytes = std::vector<uint8_t>;
using Status = SecretStreamFramer::Status;

Bytes bytesOf(const std::string& s) { return Bytes(s.begin(), s.end()); }

class FramerTest : public ::testing::Test {
 protected:
  FramerTest() {
    SecretStreamFramer::Key key;
    crypto_secretstream_xchacha20poly1305_keygen(key.data());
    receiver.initPull(key, sender.initPush(key));
  }

  Bytes frame(const std::string& text, bool final = false) {
    Bytes out;
    sender.seal(bytesOf(text), final, out);
    return out;
  }

  SecretStreamFramer sender;
  SecretStreamFramer receiver;
  Bytes plain;
};

TEST_F(FramerTest, RoundTripsMessagesThenFinal) {
  Bytes stream = frame("hello ");
  const Bytes second = frame("world");
  const Bytes last = frame("", true);
  stream.insert(stream.end(), second.begin(), second.end());
  stream.insert(stream.end(), last.begin(), last.end());

  std::string got;
  std::span<const uint8_t> rest(stream);
  for (Status expected : {Status::kMessage, Status::kMessage, Status::kFinal}) {
    const auto r = receiver.open(rest, plain);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, expected);
    got.append(plain.begin(), plain.end());
    rest = rest.subspan(r.consumed);
  }
  EXPECT_EQ(got, "hello world");
  EXPECT_TRUE(rest.empty());
  EXPECT_FALSE(receiver.endOfStream());
}

TEST_F(FramerTest, WaitsForTheWholeFrame) {
  const Bytes f = frame("partial delivery");
  for (std::size_t n = 0; n < f.size(); ++n) {
    const auto r = receiver.open(std::span(f).first(n), plain);
    ASSERT_FALSE(r.ec);
    EXPECT_EQ(r.status, Status::kNeedMore);
    EXPECT_EQ(r.consumed, 0u);
  }
  EXPECT_EQ(receiver.open(f, plain).status, Status::kMessage);
}

TEST_F(FramerTest, TamperedByteFailsAndTheStreamStaysBroken) {
  Bytes f = frame("pay 10 tokens");
  const Bytes next = frame("next");
  f[SecretStreamFramer::kLengthBytes + 3] ^= 0x01;
  EXPECT_EQ(receiver.open(f, plain).ec, dataplane_errc::decrypt_failed);
  EXPECT_TRUE(plain.empty());
  EXPECT_EQ(receiver.open(next, plain).ec, dataplane_errc::decrypt_failed);
}

TEST_F(FramerTest, TamperedLengthFails) {
  Bytes f = frame("some text here");
  f[3] -= 1;  // one byte shorter: the tag no longer lines up
  EXPECT_EQ(receiver.open(f, plain).ec, dataplane_errc::decrypt_failed);
}

TEST_F(FramerTest, MessageCannotBeTurnedIntoFinal) {
  // The tag is inside the authenticated ciphertext: flipping its bits breaks the MAC.
  Bytes f = frame("not the end");
  f[SecretStreamFramer::kLengthBytes] ^= crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  EXPECT_EQ(receiver.open(f, plain).ec, dataplane_errc::decrypt_failed);
}

TEST_F(FramerTest, ReorderedFramesFail) {
  const Bytes first = frame("first");
  const Bytes second = frame("second");
  EXPECT_EQ(receiver.open(second, plain).ec, dataplane_errc::decrypt_failed);
  EXPECT_EQ(receiver.open(first, plain).ec, dataplane_errc::decrypt_failed);
}

TEST_F(FramerTest, DuplicatedFrameFails) {
  const Bytes f = frame("once");
  ASSERT_EQ(receiver.open(f, plain).status, Status::kMessage);
  EXPECT_EQ(receiver.open(f, plain).ec, dataplane_errc::decrypt_failed);
}

TEST_F(FramerTest, DroppedFrameFails) {
  (void)frame("lost in transit");
  EXPECT_EQ(receiver.open(frame("after the gap"), plain).ec, dataplane_errc::decrypt_failed);
}

TEST_F(FramerTest, StreamEndingWithoutFinalIsTruncated) {
  ASSERT_EQ(receiver.open(frame("data: half a response"), plain).status, Status::kMessage);
  EXPECT_EQ(receiver.endOfStream(), dataplane_errc::truncated);
}

TEST_F(FramerTest, NothingIsAcceptedAfterFinal) {
  ASSERT_EQ(receiver.open(frame("", true), plain).status, Status::kFinal);
  EXPECT_EQ(receiver.open(Bytes(40, 0), plain).ec, boost::asio::error::eof);
}

TEST_F(FramerTest, OversizeLengthIsRefusedBeforeTheFrameArrives) {
  const uint32_t tooBig = SecretStreamFramer::kMaxCiphertext + 1;
  const Bytes header = {uint8_t(tooBig >> 24), uint8_t(tooBig >> 16), uint8_t(tooBig >> 8), uint8_t(tooBig)};
  EXPECT_EQ(receiver.open(header, plain).ec, dataplane_errc::frame_too_large);

  SecretStreamFramer other;
  SecretStreamFramer::Key key{};
  other.initPull(key, SecretStreamFramer::Header{});
  EXPECT_EQ(other.open(Bytes{0xff, 0xff, 0xff, 0xff}, plain).ec, dataplane_errc::frame_too_large);
}

TEST_F(FramerTest, LengthShorterThanATagFails) {
  EXPECT_EQ(receiver.open(Bytes{0, 0, 0, 3, 1, 2, 3}, plain).ec, dataplane_errc::decrypt_failed);
}

TEST_F(FramerTest, LargestFrameRoundTrips) {
  const std::string big(SecretStreamFramer::kMaxPlaintext, 'x');
  const Bytes f = frame(big);
  EXPECT_EQ(f.size(), SecretStreamFramer::kMaxFrameBytes);
  const auto r = receiver.open(f, plain);
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(plain.size(), big.size());
}

TEST_F(FramerTest, WrongKeyFails) {
  SecretStreamFramer stranger;
  SecretStreamFramer::Key otherKey;
  crypto_secretstream_xchacha20poly1305_keygen(otherKey.data());
  SecretStreamFramer::Key key;
  crypto_secretstream_xchacha20poly1305_keygen(key.data());
  const auto header = sender.initPush(key);
  stranger.initPull(otherKey, header);
  EXPECT_EQ(stranger.open(frame("secret"), plain).ec, dataplane_errc::decrypt_failed);
}

}  // namespace
}  // namespace qmesh::dataplane
