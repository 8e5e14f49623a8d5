#include "router/dataplane/framer.h"

#include <boost/asio/error.hpp>

#include <cstdlib>

#include "common/sodium_init.h"
#include "router/dataplane/errors.h"

namespace qmesh::dataplane {
namespace {

uint32_t readBigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

SecretStreamFramer::SecretStreamFramer() {
  ensureSodium();
  sodium_memzero(&push_, sizeof push_);
  sodium_memzero(&pull_, sizeof pull_);
}

SecretStreamFramer::~SecretStreamFramer() {
  sodium_memzero(&push_, sizeof push_);
  sodium_memzero(&pull_, sizeof pull_);
}

SecretStreamFramer::Header SecretStreamFramer::initPush(const Key& txKey) {
  Header header;
  crypto_secretstream_xchacha20poly1305_init_push(&push_, header.data(), txKey.data());
  pushReady_ = true;
  finalSent_ = false;
  return header;
}

void SecretStreamFramer::seal(std::span<const uint8_t> plaintext, bool final, std::vector<uint8_t>& out) {
  // Callers bound both; breaking either would put an unreadable frame on the wire.
  if (!pushReady_ || finalSent_ || plaintext.size() > kMaxPlaintext) std::abort();
  const std::size_t ctLen = plaintext.size() + kTagBytes;
  const std::size_t at = out.size();
  out.resize(at + kLengthBytes + ctLen);
  uint8_t* p = out.data() + at;
  p[0] = static_cast<uint8_t>(ctLen >> 24);
  p[1] = static_cast<uint8_t>(ctLen >> 16);
  p[2] = static_cast<uint8_t>(ctLen >> 8);
  p[3] = static_cast<uint8_t>(ctLen);
  const uint8_t tag = final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  crypto_secretstream_xchacha20poly1305_push(&push_, p + kLengthBytes, nullptr, plaintext.data(),
                                             plaintext.size(), nullptr, 0, tag);
  finalSent_ = final;
}

void SecretStreamFramer::initPull(const Key& rxKey, const Header& header) {
  // init_pull cannot fail: any 24 bytes are a header, a forged one fails on the first frame.
  crypto_secretstream_xchacha20poly1305_init_pull(&pull_, header.data(), rxKey.data());
  pullReady_ = true;
  finalSeen_ = false;
  pullError_ = {};
}

SecretStreamFramer::Opened SecretStreamFramer::open(std::span<const uint8_t> in, std::vector<uint8_t>& plaintext) {
  plaintext.clear();
  if (pullError_) return {pullError_};
  if (!pullReady_) std::abort();
  // Nothing may follow FINAL: the sender promised the stream was complete.
  if (finalSeen_) return {boost::asio::error::eof};
  if (in.size() < kLengthBytes) return {};
  const uint32_t ctLen = readBigEndian32(in.data());
  if (ctLen > kMaxCiphertext) return {pullError_ = dataplane_errc::frame_too_large};
  if (ctLen < kTagBytes) return {pullError_ = dataplane_errc::decrypt_failed};
  if (in.size() < kLengthBytes + ctLen) return {};

  plaintext.resize(ctLen - kTagBytes);
  unsigned long long plainLen = 0;
  uint8_t tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&pull_, plaintext.data(), &plainLen, &tag,
                                                 in.data() + kLengthBytes, ctLen, nullptr, 0) != 0 ||
      (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE &&
       tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)) {
    plaintext.clear();
    return {pullError_ = dataplane_errc::decrypt_failed};
  }
  plaintext.resize(plainLen);
  const bool final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  finalSeen_ = final;
  return {{}, final ? Status::kFinal : Status::kMessage, kLengthBytes + ctLen};
}

boost::system::error_code SecretStreamFramer::endOfStream() const {
  if (pullError_) return pullError_;
  if (finalSeen_) return {};
  return dataplane_errc::truncated;
}

}  // namespace qmesh::dataplane
