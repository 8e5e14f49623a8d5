// The SWIM engine (router/membership/gossip.h) fed what a member holding the mesh key can
// send: opened datagrams and push-pull messages, interleaved with the passing of time. The
// parsers' harnesses stop at a decoded message; this one follows it into the merge rules,
// suspicion timers and dissemination queue. Input, records until it runs out:
//   [kind u8][length u16 big-endian][length bytes]
//   kind % 4 == 0, 1: `bytes` arrive as one packet from peer address kind % 2
//   kind % 4 == 2:    the clock moves on by (first two bytes) milliseconds, then tick()
//   kind % 4 == 3:    the clock moves to the engine's next wakeup, then tick()
// The first byte picks the claims: bit 0 clear, real Ed25519 (only unsigned suspect/dead
// claims and forged signatures get anywhere); set, a believe-everything authority, so the
// fuzzer reaches the merge rules for alive/leave records it cannot sign. Beyond sanitizers:
// whatever anyone claims, the engine keeps itself alive in its own table.
#include <chrono>

#include "common/clock.h"
#include "common/random.h"
#include "fuzz/fuzz_support.h"
#include "router/membership/claim_authority.h"
#include "router/membership/gossip.h"

using namespace qmesh;
using namespace qmesh::membership;

namespace {

class ScriptedClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_ = TimePoint{} + std::chrono::hours(24 * 365);
};

class CapturingTransport final : public Transport {
 public:
  void send(const Address&, std::span<const uint8_t>) override {}
  void setReceiveHandler(ReceiveHandler handler) override { handler_ = std::move(handler); }
  const Address& localAddress() const override { return local_; }
  bool supportsReliable() const override { return true; }
  void sendReliable(const Address&, std::span<const uint8_t>) override {}
  void deliver(const Address& from, std::span<const uint8_t> data) { handler_(from, data); }

 private:
  Address local_ = "10.0.0.1:7946";
  ReceiveHandler handler_;
};

const Address kPeers[2] = {"10.0.0.2:7946", "10.0.0.3:7946"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::useDeterministicRandom();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  fuzz::resetRandom();
  static Ed25519Claims signedClaims(fuzz::identity(1));
  static UnsignedClaims anyClaims;
  ClaimAuthority& claims = (data[0] & 1) ? static_cast<ClaimAuthority&>(anyClaims) : signedClaims;

  Member self;
  self.id = fuzz::identity(1).id();
  self.name = "self";
  self.address = "10.0.0.1:7946";
  self.incarnation = self.signedIncarnation = 1;
  ScriptedClock clock;
  CapturingTransport transport;
  SeededRandom random(7);
  Gossip gossip(GossipConfig::lan(), self, claims, transport, clock, random);
  gossip.join({kPeers[0]});

  std::span<const uint8_t> in(data + 1, size - 1);
  while (in.size() >= 3) {
    const uint8_t kind = in[0];
    const std::size_t len = std::min<std::size_t>((in[1] << 8) | in[2], in.size() - 3);
    const auto bytes = in.subspan(3, len);
    in = in.subspan(3 + len);
    switch (kind % 4) {
      case 0:
      case 1:
        if (bytes.size() <= kMaxReliable) transport.deliver(kPeers[kind % 2], bytes);
        break;
      case 2: {
        const int ms = bytes.size() >= 2 ? (bytes[0] << 8) | bytes[1] : 100;
        clock.set(clock.now() + std::chrono::milliseconds(ms));
        gossip.tick();
        break;
      }
      case 3:
        clock.set(std::max(clock.now(), gossip.nextWakeup()));
        gossip.tick();
        break;
    }
    const Member* me = gossip.members().find(self.id);
    FUZZ_CHECK(me && me->state == MemberState::kAlive);
  }
  return 0;
}
