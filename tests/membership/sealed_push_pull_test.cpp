// Push-pull over the real stack (SealedTransport over UdpTransport on loopback): the state
// travels as a sealed stream of 64 KiB pieces (sealed_stream.h), and the receiver verifies
// each piece before it reads the next. A sender without the key, or one that forges,
// reorders, splices or cuts a stream, is dropped after at most one unverified piece.
#include <gtest/gtest.h>

#include <functional>
#include <list>

#include "router/membership/sealed_stream.h"
#include "router/membership/sealed_transport.h"
#include "router/membership/udp_transport.h"
#include "tests/membership/membership_test_util.h"
#include "tests/membership/udp_test_util.h"

namespace qmesh::membership {
namespace {

using tcp = net::ip::tcp;
using test::idOf;
using test::keyOf;
using namespace std::chrono_literals;
using test::frameHeader;
using test::runUntil;

std::vector<uint8_t> state(std::size_t n) {
  std::vector<uint8_t> s(n);
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return s;
}

class SealedPushPull : public ::testing::Test {
 protected:
  SealedPushPull() {
    auto t = UdpTransport::open(io, {"127.0.0.1", 0}, std::nullopt);
    EXPECT_TRUE(t.ok()) << t.error().message;
    bobUdp = t.value().get();
    bob = std::make_unique<SealedTransport>(std::move(t).value(), bobKeys, idOf(2), 200);
    bob->setReceiveHandler([this](const Address&, std::span<const uint8_t> d) {
      got.emplace_back(d.begin(), d.end());
      senders.push_back(*bob->authenticatedSender());
    });
    auto a = UdpTransport::open(io, {"127.0.0.1", 0}, std::nullopt);
    EXPECT_TRUE(a.ok()) << a.error().message;
    alice = std::make_unique<SealedTransport>(std::move(a).value(), aliceKeys, idOf(1), 100);
  }

  const UdpTransportCounters& counters() const { return bobUdp->counters(); }
  const EnvelopeStats& stats() const { return bob->reliableStats(); }
  Address bobAddress() const { return bob->localAddress(); }

  // Writes `frame` from a raw socket without ever blocking the loop that must read it, until
  // all of it is written or the transport closed the connection; true if it was closed.
  bool sendRaw(const std::vector<uint8_t>& frame) {
    tcp::socket s(io);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), bobUdp->boundPort()));
    s.non_blocking(true);
    std::size_t at = 0;
    bool closed = false;
    runUntil(io, [&] {
      error_code ec;
      while (at < frame.size()) {
        const std::size_t n = s.write_some(net::buffer(frame.data() + at, frame.size() - at), ec);
        at += n;
        if (ec) break;
      }
      if (ec && ec != net::error::would_block) return closed = true;
      if (at < frame.size()) return false;
      // Everything is out: wait for the transport to close its end.
      uint8_t b;
      s.read_some(net::buffer(&b, 1), ec);
      return closed = (ec && ec != net::error::would_block);
    });
    return closed;
  }

  // A real sealed stream from alice (her keyring, her id), as she would send it.
  std::vector<uint8_t> sealedByAlice(std::size_t n) { return *aliceEnvelope.seal(state(n)); }

  net::io_context io;
  Keyring aliceKeys{keyOf(1)};
  Keyring bobKeys{keyOf(1)};
  Envelope aliceEnvelope{aliceKeys, idOf(1), 300, Channel::kReliable};
  UdpTransport* bobUdp = nullptr;
  std::unique_ptr<SealedTransport> bob;
  std::unique_ptr<SealedTransport> alice;
  std::vector<std::vector<uint8_t>> got;
  std::vector<NodeId> senders;
};

TEST_F(SealedPushPull, LargeStateArrivesInSeveralVerifiedPieces) {
  const auto big = state(5 * kReliableChunk + 1234);
  alice->sendReliable(bobAddress(), big);
  ASSERT_TRUE(runUntil(io, [&] { return got.size() == 1; }));
  EXPECT_EQ(got[0], big);
  EXPECT_EQ(senders[0], idOf(1));
  EXPECT_EQ(stats().opened, 1u);
  EXPECT_EQ(counters().reliableChunksRejected, 0u);
  EXPECT_EQ(counters().inboundBufferedBytes, 0u);
}

TEST_F(SealedPushPull, StateSyncWorksAcrossAKeyRotation) {
  // Step 1 of a rotation: bob has the new key installed, alice already seals with it.
  bobKeys.install(keyOf(9));
  aliceKeys.install(keyOf(9));
  ASSERT_TRUE(aliceKeys.use(keyOf(9)));
  const auto big = state(3 * kReliableChunk);
  alice->sendReliable(bobAddress(), big);
  ASSERT_TRUE(runUntil(io, [&] { return got.size() == 1; }));
  EXPECT_EQ(got[0], big);
  // Step 2: bob moved on to the new key too and keeps the old one; alice still seals with
  // the old one (she has not rotated yet).
  ASSERT_TRUE(bobKeys.use(keyOf(9)));
  ASSERT_TRUE(aliceKeys.use(keyOf(1)));
  alice->sendReliable(bobAddress(), big);
  ASSERT_TRUE(runUntil(io, [&] { return got.size() == 2; }));
  EXPECT_EQ(got[1], big);
  // Step 3: the old key is gone from bob: alice's old-key stream is refused at its first piece.
  ASSERT_TRUE(bobKeys.remove(keyOf(1)));
  alice->sendReliable(bobAddress(), big);
  ASSERT_TRUE(runUntil(io, [&] { return counters().reliableChunksRejected == 1; }));
  EXPECT_EQ(stats().authFailed, 1u);
  EXPECT_EQ(got.size(), 2u);
}

TEST_F(SealedPushPull, GarbageIsDroppedAfterOnePieceWhateverLengthItAnnounces) {
  std::vector<uint8_t> frame = frameHeader("127.0.0.1:1", kMaxReliable);
  auto garbage = state(kMaxReliable);
  garbage[0] = Envelope::kReliableVersion;  // it looks like a sealed stream; its MAC cannot be right
  frame.insert(frame.end(), garbage.begin(), garbage.end());
  EXPECT_TRUE(sendRaw(frame)) << "the transport kept reading garbage";
  EXPECT_EQ(counters().reliableChunksRejected, 1u);
  EXPECT_EQ(stats().authFailed, 1u);
  EXPECT_LE(counters().inboundBufferedPeak, kReliableChunk);
  EXPECT_EQ(counters().inboundBufferedBytes, 0u);
  EXPECT_TRUE(got.empty());
}

TEST_F(SealedPushPull, AForgedPieceAfterAnAuthenticOneIsDroppedThere) {
  auto sealed = sealedByAlice(6 * kReliableChunk);
  sealed[kReliableChunk + 100] ^= 1;  // the second piece
  auto frame = frameHeader("127.0.0.1:1", static_cast<uint32_t>(sealed.size()));
  frame.insert(frame.end(), sealed.begin(), sealed.end());
  EXPECT_TRUE(sendRaw(frame));
  EXPECT_EQ(counters().reliableChunksRejected, 1u);
  EXPECT_EQ(stats().authFailed, 1u);
  // The first piece's plaintext and the forged piece, never more.
  EXPECT_LE(counters().inboundBufferedPeak, 2 * kReliableChunk);
  EXPECT_TRUE(got.empty());
}

TEST_F(SealedPushPull, ReorderedPiecesAreRejected) {
  auto sealed = sealedByAlice(4 * kReliableChunk);
  std::swap_ranges(sealed.begin() + kReliableChunk, sealed.begin() + 2 * kReliableChunk,
                   sealed.begin() + 2 * kReliableChunk);
  auto frame = frameHeader("127.0.0.1:1", static_cast<uint32_t>(sealed.size()));
  frame.insert(frame.end(), sealed.begin(), sealed.end());
  EXPECT_TRUE(sendRaw(frame));
  EXPECT_EQ(counters().reliableChunksRejected, 1u);
  EXPECT_EQ(stats().authFailed, 1u);
  EXPECT_TRUE(got.empty());
}

TEST_F(SealedPushPull, APieceSplicedFromAnotherStreamIsRejected) {
  auto sealed = sealedByAlice(3 * kReliableChunk);
  const auto other = sealedByAlice(3 * kReliableChunk);  // same key, sender and length
  std::copy(other.begin() + kReliableChunk, other.begin() + 2 * kReliableChunk, sealed.begin() + kReliableChunk);
  auto frame = frameHeader("127.0.0.1:1", static_cast<uint32_t>(sealed.size()));
  frame.insert(frame.end(), sealed.begin(), sealed.end());
  EXPECT_TRUE(sendRaw(frame));
  EXPECT_EQ(counters().reliableChunksRejected, 1u);
  EXPECT_EQ(stats().authFailed, 1u);
  EXPECT_TRUE(got.empty());
}

TEST_F(SealedPushPull, AStreamCutBeforeItsFinalPieceIsRejected) {
  auto sealed = sealedByAlice(3 * kReliableChunk);
  sealed.resize(2 * kReliableChunk);  // every piece authentic, the FINAL one missing
  auto frame = frameHeader("127.0.0.1:1", static_cast<uint32_t>(sealed.size()));
  frame.insert(frame.end(), sealed.begin(), sealed.end());
  EXPECT_TRUE(sendRaw(frame));
  ASSERT_TRUE(runUntil(io, [&] { return counters().reliableChunksRejected == 1; }));
  EXPECT_EQ(stats().truncated, 1u);
  EXPECT_EQ(stats().opened, 0u);
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace qmesh::membership
