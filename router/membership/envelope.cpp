#include "router/membership/envelope.h"

#include <sodium.h>

#include "router/membership/sealed_stream.h"
#include "router/membership/wire.h"

namespace qmesh::membership {

static_assert(Envelope::kNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(Envelope::kTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);

namespace {

const Clock& processClock() {
  static const SteadyClock clock;
  return clock;
}

}  // namespace

Envelope::Envelope(const Keyring& keyring, NodeId self, uint64_t bootEpoch, Channel channel, const Clock* clock)
    : keyring_(keyring), self_(self), epoch_(bootEpoch), channel_(channel),
      windows_(clock ? *clock : processClock()) {}

std::optional<std::vector<uint8_t>> Envelope::seal(std::span<const uint8_t> plaintext) {
  const std::size_t max = channel_ == Channel::kDatagram ? kMaxPlaintext : kMaxReliablePlaintext;
  if (plaintext.size() > max) {
    ++stats_.tooLarge;
    return std::nullopt;
  }
  std::vector<uint8_t> out;
  out.reserve(kOverhead + plaintext.size());
  wire::Writer w(out);
  w.u8(format());
  w.bytes(self_.bytes);
  w.u64(epoch_);
  w.u64(counter_++);
  if (channel_ == Channel::kReliable) {
    ++stats_.sealed;
    return sealed_stream::seal(std::span<const uint8_t, kHeaderBytes>(out.data(), kHeaderBytes), plaintext,
                               subkey(keyring_.primary()));
  }
  out.resize(kHeaderBytes + kNonceBytes);
  uint8_t* nonce = out.data() + kHeaderBytes;
  randombytes_buf(nonce, kNonceBytes);
  out.resize(kHeaderBytes + kNonceBytes + plaintext.size() + kTagBytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + kHeaderBytes + kNonceBytes, &clen, plaintext.data(), plaintext.size(),
      out.data(), kHeaderBytes, nullptr, nonce, subkey(keyring_.primary()).data());
  ++stats_.sealed;
  return out;
}

std::optional<Envelope::Opened> Envelope::openReliable(std::span<const uint8_t> message) {
  if (message.size() > kMaxReliable) {
    ++stats_.malformed;
    return std::nullopt;
  }
  std::optional<Opened> out;
  SealedStreamOpener opener(*this, [&](const std::string&, const NodeId& sender, std::span<const uint8_t> plain) {
    out = Opened{sender, std::vector<uint8_t>(plain.begin(), plain.end())};
  });
  std::size_t at = 0;
  do {
    const std::size_t n = std::min(kReliableChunk, message.size() - at);
    if (!opener.chunk(message.subspan(at, n))) return std::nullopt;
    at += n;
  } while (at < message.size());
  if (!opener.finish("")) return std::nullopt;
  return out;
}

std::optional<Envelope::Opened> Envelope::open(std::span<const uint8_t> datagram) {
  if (channel_ == Channel::kReliable) return openReliable(datagram);
  const std::size_t max = kMaxDatagram;
  if (datagram.size() < kOverhead || datagram.size() > max) {
    ++stats_.malformed;
    return std::nullopt;
  }
  wire::Reader r(datagram);
  if (r.u8() != format()) {
    ++stats_.badVersion;
    return std::nullopt;
  }
  Opened result;
  r.into(result.sender.bytes);
  const uint64_t epoch = r.u64();
  const uint64_t counter = r.u64();
  const uint8_t* nonce = datagram.data() + kHeaderBytes;
  const auto cipher = datagram.subspan(kHeaderBytes + kNonceBytes);
  result.plaintext.resize(cipher.size() - kTagBytes);

  bool opened = false;
  for (const Keyring::Entry& key : keyring_.entries()) {
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            result.plaintext.data(), &mlen, nullptr, cipher.data(), cipher.size(),
            datagram.data(), kHeaderBytes, nonce, subkey(key).data()) == 0) {
      opened = true;
      break;
    }
  }
  if (!opened) {
    ++stats_.authFailed;
    return std::nullopt;
  }
  // Judged only after authentication, so forged headers cannot move anyone's window.
  if (result.sender == self_) {
    ++stats_.reflected;
    return std::nullopt;
  }
  if (!windows_.accept(result.sender, epoch, counter)) {
    ++stats_.replayed;
    return std::nullopt;
  }
  ++stats_.opened;
  return result;
}

}  // namespace qmesh::membership
