// Sealing of gossip datagrams and push-pull messages: XChaCha20-Poly1305 (IETF AEAD), a
// fresh random 24-byte nonce per packet (XChaCha's nonce is large enough that random nonces
// never collide in practice), and a header that is authenticated but clear:
//
//   [format u8][sender id 32][boot epoch u64][counter u64][nonce 24][ciphertext][tag 16]
//    \____________ associated data (49 bytes) ____________/
//
// The format byte names the channel and its version together: 1 = gossip datagram (gossip
// subkey, at most 1,400 bytes), 3 = push-pull message over the reliable channel (push-pull
// subkey, up to kMaxReliable), which carries the same clear header but is sealed as a
// stream of 64 KiB chunks, each verified before the next is read (sealed_stream.h; 2 was
// the same header over one AEAD for the whole message, which a receiver could only check
// after buffering all of it). A receiver that gets both through one handler tells them
// apart by it, and each channel has its own key, counter and replay windows, so a packet
// of one can never be passed off as the other.
//
// The (boot epoch, counter) pair feeds a per-sender replay window (SenderWindows): the
// counter increases per packet, the epoch per process start (so a restarted node is not
// mistaken for a replayer). Anything that fails to open is dropped and counted, never parsed.
//
// The sender id is authenticated by the mesh key only: it tells members from outsiders, but
// a member could write another's id. Hence SenderWindows never lets a new epoch displace a
// live one, and claims inside are checked against signatures (claim_authority.h). Still
// open: such a member can seal packets under another's id and live epoch with a counter far
// ahead, and the real sender's next packets look too old; only binding the header to the
// sender's identity (a signature, or a pairwise key from the Ed25519 ids) closes that.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/clock.h"
#include "router/membership/keyring.h"
#include "router/membership/node_id.h"
#include "router/membership/sender_windows.h"
#include "router/membership/transport.h"

namespace qmesh::membership {

struct EnvelopeStats {
  uint64_t sealed = 0;
  uint64_t opened = 0;
  uint64_t tooLarge = 0;     // refused to seal: would exceed the channel's limit
  // Dropped on receive:
  uint64_t malformed = 0;    // shorter than a header and tag, or over the channel's limit
  uint64_t badVersion = 0;
  uint64_t authFailed = 0;   // no installed key opens it: wrong mesh key or tampered
  uint64_t replayed = 0;     // duplicate, too old, or from an earlier boot of the sender
  uint64_t reflected = 0;    // claims to come from ourselves
  uint64_t truncated = 0;    // a reliable message that ended before its FINAL chunk

  uint64_t rejected() const { return malformed + badVersion + authFailed + replayed + reflected + truncated; }
};

enum class Channel : uint8_t { kDatagram, kReliable };

class Envelope {
 public:
  static constexpr uint8_t kVersion = 1;          // format byte of a gossip datagram
  static constexpr uint8_t kReliableVersion = 3;  // format byte of a push-pull message (a sealed stream)
  static constexpr std::size_t kHeaderBytes = 1 + NodeId::kSize + 8 + 8;  // the AD
  static constexpr std::size_t kNonceBytes = 24;
  static constexpr std::size_t kTagBytes = 16;
  static constexpr std::size_t kOverhead = kHeaderBytes + kNonceBytes + kTagBytes;
  static constexpr std::size_t kMaxPlaintext = kMaxDatagram - kOverhead;
  // What fits kMaxReliable as a sealed stream: its prefix, then 17 bytes per chunk of at
  // most kReliableChunk (one more chunk than a whole division, for the prefix's room).
  static constexpr std::size_t kMaxReliablePlaintext =
      kMaxReliable - kHeaderBytes - 24 - 17 * (kMaxReliable / kReliableChunk + 1);

  // bootEpoch must grow across restarts of this node (boot_epoch.h); peers reject packets
  // from an epoch older than they have seen. `clock` times the handover between a sender's
  // epochs (SenderWindows); it must outlive the envelope. Without one, a process-wide
  // steady clock.
  Envelope(const Keyring& keyring, NodeId self, uint64_t bootEpoch,
           Channel channel = Channel::kDatagram, const Clock* clock = nullptr);

  // nullopt if the plaintext would not fit the channel's limit.
  std::optional<std::vector<uint8_t>> seal(std::span<const uint8_t> plaintext);

  struct Opened {
    NodeId sender;
    std::vector<uint8_t> plaintext;
  };
  // A reliable message here arrives whole (a transport that does not stream); it is read
  // piece by piece all the same, by the same SealedStreamOpener a streaming transport uses.
  std::optional<Opened> open(std::span<const uint8_t> datagram);

  // Drops the replay windows of a sender the mesh has forgotten (reaped), keeping only its
  // boot epoch and highest counter (16 bytes instead of ~300 per epoch): packets from that
  // boot or an older one that were ever accepted, or are older than the last accepted,
  // stay rejected.
  void forgetPeer(const NodeId& sender) { windows_.forget(sender); }
  // Senders with a replay window (the forgotten ones excluded), and all remembered.
  std::size_t peerWindows() const { return windows_.windowedSenders(); }
  std::size_t peersRemembered() const { return windows_.senders(); }

  Channel channel() const { return channel_; }
  const EnvelopeStats& stats() const { return stats_; }

 private:
  friend class SealedStreamOpener;  // the reliable channel's stream: keys, windows, stats
  std::optional<Opened> openReliable(std::span<const uint8_t> message);
  uint8_t format() const { return channel_ == Channel::kDatagram ? kVersion : kReliableVersion; }
  const Subkey& subkey(const Keyring::Entry& e) const {
    return channel_ == Channel::kDatagram ? e.gossip : e.pushPull;
  }

  const Keyring& keyring_;
  NodeId self_;
  uint64_t epoch_;
  Channel channel_;
  uint64_t counter_ = 0;
  SenderWindows windows_;  // only authenticated packets reach it
  EnvelopeStats stats_;
};

}  // namespace qmesh::membership
