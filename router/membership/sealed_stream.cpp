#include "router/membership/sealed_stream.h"

#include <algorithm>

#include "router/membership/wire.h"

namespace qmesh::membership {

static_assert(Envelope::kTagBytes + 1 == sealed_stream::kChunkOverhead);  // tag + secretstream's tag byte
static_assert(sealed_stream::kPrefixBytes + sealed_stream::kChunkOverhead < kReliableChunk);

namespace sealed_stream {

std::vector<uint8_t> seal(std::span<const uint8_t, Envelope::kHeaderBytes> header,
                          std::span<const uint8_t> plaintext, const Subkey& key) {
  const std::size_t chunks = plaintext.size() / (kReliableChunk - kPrefixBytes - kChunkOverhead) + 1;
  std::vector<uint8_t> out(kPrefixBytes + plaintext.size() + chunks * kChunkOverhead);
  std::copy(header.begin(), header.end(), out.begin());
  crypto_secretstream_xchacha20poly1305_state state;
  crypto_secretstream_xchacha20poly1305_init_push(&state, out.data() + Envelope::kHeaderBytes, key.data());
  std::size_t at = kPrefixBytes, taken = 0;
  do {
    // Each piece ends exactly at a kReliableChunk boundary, where the receiver cuts.
    const std::size_t room = kReliableChunk - at % kReliableChunk - kChunkOverhead;
    const std::size_t n = std::min(room, plaintext.size() - taken);
    const bool last = taken + n == plaintext.size();
    if (out.size() < at + n + kChunkOverhead) out.resize(at + n + kChunkOverhead);
    unsigned long long clen = 0;
    crypto_secretstream_xchacha20poly1305_push(&state, out.data() + at, &clen, plaintext.data() + taken, n,
                                               header.data(), header.size(),
                                               last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    at += clen;
    taken += n;
    if (last) break;
  } while (true);
  out.resize(at);
  sodium_memzero(&state, sizeof state);
  return out;
}

}  // namespace sealed_stream

SealedStreamOpener::SealedStreamOpener(Envelope& envelope, Deliver deliver)
    : env_(envelope), deliver_(std::move(deliver)) {}

SealedStreamOpener::~SealedStreamOpener() { sodium_memzero(&state_, sizeof state_); }

bool SealedStreamOpener::fail(uint64_t EnvelopeStats::*counter) {
  if (!failed_) ++(env_.stats_.*counter);
  failed_ = true;
  return false;
}

bool SealedStreamOpener::chunk(std::span<const uint8_t> piece) {
  if (failed_) return false;
  if (final_) return fail(&EnvelopeStats::malformed);  // nothing may follow FINAL
  if (!started_) return first(piece);
  return pull(piece) || fail(&EnvelopeStats::authFailed);
}

bool SealedStreamOpener::first(std::span<const uint8_t> piece) {
  using sealed_stream::kChunkOverhead;
  using sealed_stream::kPrefixBytes;
  if (piece.size() < kPrefixBytes + kChunkOverhead) return fail(&EnvelopeStats::malformed);
  if (piece[0] != Envelope::kReliableVersion) return fail(&EnvelopeStats::badVersion);
  std::copy_n(piece.begin(), header_.size(), header_.begin());
  const uint8_t* streamHeader = piece.data() + Envelope::kHeaderBytes;
  bool opened = false;
  for (const Keyring::Entry& key : env_.keyring_.entries()) {
    if (crypto_secretstream_xchacha20poly1305_init_pull(&state_, streamHeader, key.pushPull.data()) != 0) continue;
    plaintext_.clear();
    if (pull(piece.subspan(kPrefixBytes))) {
      opened = true;
      break;
    }
  }
  if (!opened) return fail(&EnvelopeStats::authFailed);
  started_ = true;
  // Judged only after authentication, so forged headers cannot move anyone's window.
  wire::Reader r(header_);
  r.u8();
  r.into(sender_.bytes);
  const uint64_t epoch = r.u64();
  const uint64_t counter = r.u64();
  if (sender_ == env_.self_) return fail(&EnvelopeStats::reflected);
  if (!env_.windows_.accept(sender_, epoch, counter)) return fail(&EnvelopeStats::replayed);
  return true;
}

bool SealedStreamOpener::pull(std::span<const uint8_t> cipher) {
  if (cipher.size() < sealed_stream::kChunkOverhead) return false;
  const std::size_t at = plaintext_.size();
  plaintext_.resize(at + cipher.size() - sealed_stream::kChunkOverhead);
  unsigned long long mlen = 0;
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&state_, plaintext_.data() + at, &mlen, &tag, cipher.data(),
                                                 cipher.size(), header_.data(), header_.size()) != 0) {
    plaintext_.resize(at);
    return false;
  }
  final_ = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  return true;
}

bool SealedStreamOpener::finish(const std::string& from) {
  if (failed_) return false;
  if (!final_) return fail(&EnvelopeStats::truncated);
  ++env_.stats_.opened;
  if (deliver_) deliver_(from, sender_, plaintext_);
  return true;
}

}  // namespace qmesh::membership
