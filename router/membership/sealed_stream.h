// Push-pull messages sealed as a stream of authenticated chunks, so that a receiver checks
// each piece before it reads the next (transport.h, kReliableChunk) and a sender without
// the mesh key costs it at most one piece of memory, never the whole announced length.
//
//   piece 0: [format u8 = 3][sender id 32][boot epoch u64][counter u64][stream header 24][chunk 0]
//   piece i: [chunk i]
//   Every piece is kReliableChunk bytes but the last. Each chunk is one
//   crypto_secretstream_xchacha20poly1305 message (plaintext + 17 bytes); the last is tagged
//   FINAL. The associated data of every chunk is the 49-byte clear header (format..counter).
//
// Why secretstream: it is libsodium's construction for exactly this (no hand-made chunk MAC).
// The random stream header gives every message its own key and nonce, so chunks cannot be
// spliced between messages; its internal counter rejects reordered, dropped or repeated
// chunks; FINAL makes a message cut short detectable, and anything after FINAL is refused.
// The key is the keyring's push-pull subkey: the primary when sealing; when opening, the
// first chunk is tried with every installed key and the one that opens it is kept for the
// rest, so a key rotation works as it does for datagrams. Once the first chunk is
// authentic, its sender, epoch and counter go through the envelope's replay windows.
#pragma once

#include <sodium.h>

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "router/membership/envelope.h"
#include "router/membership/transport.h"

namespace qmesh::membership {

namespace sealed_stream {
constexpr std::size_t kStreamHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr std::size_t kChunkOverhead = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr std::size_t kPrefixBytes = Envelope::kHeaderBytes + kStreamHeaderBytes;  // before chunk 0

// The sealed stream of `plaintext` under `key` after the clear `header`, cut as above.
std::vector<uint8_t> seal(std::span<const uint8_t, Envelope::kHeaderBytes> header,
                          std::span<const uint8_t> plaintext, const Subkey& key);
}  // namespace sealed_stream

// Opens one sealed stream piece by piece, counting failures in the envelope's stats.
class SealedStreamOpener final : public ReliableChunkSink {
 public:
  using Deliver = std::function<void(const std::string& from, const NodeId& sender, std::span<const uint8_t> plaintext)>;

  // `envelope` (a Channel::kReliable one) must outlive the opener.
  SealedStreamOpener(Envelope& envelope, Deliver deliver);
  ~SealedStreamOpener() override;
  SealedStreamOpener(const SealedStreamOpener&) = delete;
  SealedStreamOpener& operator=(const SealedStreamOpener&) = delete;

  bool chunk(std::span<const uint8_t> piece) override;
  bool finish(const std::string& from) override;
  std::size_t heldBytes() const override { return plaintext_.size(); }

 private:
  bool first(std::span<const uint8_t> piece);
  bool pull(std::span<const uint8_t> cipher);
  bool fail(uint64_t EnvelopeStats::*counter);

  Envelope& env_;
  Deliver deliver_;
  crypto_secretstream_xchacha20poly1305_state state_{};
  std::array<uint8_t, Envelope::kHeaderBytes> header_{};
  NodeId sender_;
  bool started_ = false;
  bool final_ = false;
  bool failed_ = false;
  std::vector<uint8_t> plaintext_;
};

}  // namespace qmesh::membership
