// Gossip envelope open (router/membership/envelope.h): what a stranger without the mesh key
// can reach, on both channels. Input: [mode u8][rest].
//   mode bit 0: channel (0 datagram, 1 push-pull);
//   mode bit 1 clear: `rest` is one packet, opened by a fresh receiver. If it opens (the
//     seeds are real packets sealed under the fixed test key), it must not open twice.
//   mode bit 1 set: `rest` scripts two peers sealing packets with the real Envelope::seal
//     and a network that delivers, replays and reorders them, with restarts and forgetPeer
//     in between; every packet must open at most once, and with the plaintext sealed. On
//     the push-pull channel a packet may be large (a sealed stream of several 64 KiB
//     pieces, sealed_stream.h), and the network may tamper with one: flip a byte, cut it,
//     swap two pieces or splice a piece from another; a tampered packet never opens.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "router/membership/envelope.h"

using namespace qmesh;
using namespace qmesh::membership;

namespace {

const Keyring& keyring() {
  static const Keyring k(fuzz::meshKey());
  return k;
}

void openOne(Channel channel, std::span<const uint8_t> packet) {
  Envelope rx(keyring(), fuzz::identity(1).id(), 1, channel);
  auto opened = rx.open(packet);
  if (!opened) {
    FUZZ_CHECK(rx.stats().rejected() == 1);
    return;
  }
  if (channel == Channel::kDatagram) FUZZ_CHECK(opened->plaintext.size() + Envelope::kOverhead == packet.size());
  else FUZZ_CHECK(opened->plaintext.size() < packet.size());
  FUZZ_CHECK(!(opened->sender == fuzz::identity(1).id()));
  FUZZ_CHECK(!rx.open(packet));  // the same packet again is a replay
  FUZZ_CHECK(rx.stats().replayed == 1);
}

struct Sealed {
  std::vector<uint8_t> packet;
  std::vector<uint8_t> plaintext;
  bool opened = false;
};

void script(Channel channel, FuzzedDataProvider& in) {
  static const Identity peers[2] = {fuzz::identity(2), fuzz::identity(3)};
  Envelope rx(keyring(), fuzz::identity(1).id(), 1, channel);
  uint64_t epoch[2] = {fuzz::kPeerEpoch, fuzz::kPeerEpoch};
  std::unique_ptr<Envelope> tx[2];
  for (int p = 0; p < 2; ++p) tx[p] = std::make_unique<Envelope>(keyring(), peers[p].id(), epoch[p], channel);
  std::vector<Sealed> sent;
  for (int step = 0; step < 256 && in.remaining_bytes() > 0; ++step) {
    const int p = in.ConsumeBool() ? 1 : 0;
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
      case 0: {  // seal one (not delivered yet)
        Sealed s;
        s.plaintext = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<std::size_t>(0, 32));
        if (channel == Channel::kReliable && in.ConsumeBool())  // several pieces of filler
          s.plaintext.resize(in.ConsumeIntegralInRange<std::size_t>(0, 3 * kReliableChunk), 0x5a);
        auto packet = tx[p]->seal(s.plaintext);
        FUZZ_CHECK(packet.has_value());
        s.packet = std::move(*packet);
        sent.push_back(std::move(s));
        break;
      }
      case 1:    // deliver (or replay) any packet sent so far
      case 2: {
        if (sent.empty()) break;
        Sealed& s = sent[in.ConsumeIntegralInRange<std::size_t>(0, sent.size() - 1)];
        auto opened = rx.open(s.packet);
        if (opened) {
          FUZZ_CHECK(!s.opened);
          FUZZ_CHECK(opened->plaintext == s.plaintext);
          s.opened = true;
        }
        break;
      }
      case 3:  // the peer restarts, with a later (or, clock gone back, the same) epoch
        epoch[p] += in.ConsumeIntegralInRange<uint64_t>(0, 2);
        tx[p] = std::make_unique<Envelope>(keyring(), peers[p].id(), epoch[p], channel);
        break;
      case 4:  // the mesh reaps the peer
        rx.forgetPeer(peers[p].id());
        break;
      case 5: {  // deliver a tampered copy of any packet sent so far
        if (sent.empty()) break;
        const Sealed& s = sent[in.ConsumeIntegralInRange<std::size_t>(0, sent.size() - 1)];
        const Sealed& other = sent[in.ConsumeIntegralInRange<std::size_t>(0, sent.size() - 1)];
        std::vector<uint8_t> t = s.packet;
        const std::size_t at = in.ConsumeIntegralInRange<std::size_t>(0, t.size() - 1);
        const std::size_t pieces = (t.size() + kReliableChunk - 1) / kReliableChunk;
        switch (in.ConsumeIntegralInRange<int>(0, 3)) {
          case 0: t[at] ^= in.ConsumeIntegralInRange<uint8_t>(1, 255); break;
          case 1: t.resize(at); break;
          case 2:  // swap the first two pieces
            if (t.size() >= 2 * kReliableChunk)
              std::swap_ranges(t.begin(), t.begin() + kReliableChunk, t.begin() + kReliableChunk);
            break;
          case 3:  // the second piece from another packet
            if (pieces >= 3 && other.packet.size() >= 2 * kReliableChunk)
              std::copy(other.packet.begin() + kReliableChunk, other.packet.begin() + 2 * kReliableChunk,
                        t.begin() + kReliableChunk);
            break;
        }
        if (t != s.packet) FUZZ_CHECK(!rx.open(t));
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::useDeterministicRandom();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  fuzz::resetRandom();
  const Channel channel = (data[0] & 1) ? Channel::kReliable : Channel::kDatagram;
  if ((data[0] & 2) == 0) {
    openOne(channel, {data + 1, size - 1});
  } else {
    FuzzedDataProvider in(data + 1, size - 1);
    script(channel, in);
  }
  return 0;
}
