// The data plane's record layer, without sockets: libsodium's secretstream
// (XChaCha20-Poly1305 with an internal ratchet) cut into length-prefixed frames.
//
//   stream := header(24, once per direction) frame*
//   frame  := length(u32 big-endian) ciphertext(length bytes)
//   ciphertext = secretstream_push(plaintext <= 64 KiB, tag MESSAGE | FINAL)
//
// Why secretstream rather than per-frame AEAD with a counter: its state ratchets, so a frame
// authenticates only at its exact position in the stream. Reordered, duplicated, dropped or
// spliced frames fail to decrypt, with no counter of ours to get wrong. Why a FINAL tag:
// TCP's FIN is not authenticated, so an attacker (or a crashed peer) could cut a response
// short and make it look complete; only a FINAL frame ends a stream cleanly, anything else
// is `truncated`. The length prefix is not authenticated on its own, but a wrong length
// misaligns the ciphertext and fails authentication; a length above the limit is refused
// before anything is allocated for it.
//
// One framer holds both directions of one channel. An error is sticky: after a failed
// frame the pull side refuses everything, because the stream position is lost.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include <boost/system/error_code.hpp>

namespace qmesh::dataplane {

class SecretStreamFramer {
 public:
  static constexpr std::size_t kKeyBytes = crypto_secretstream_xchacha20poly1305_KEYBYTES;
  static constexpr std::size_t kHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
  static constexpr std::size_t kTagBytes = crypto_secretstream_xchacha20poly1305_ABYTES;
  static constexpr std::size_t kLengthBytes = 4;
  static constexpr std::size_t kMaxPlaintext = 64 * 1024;
  static constexpr std::size_t kMaxCiphertext = kMaxPlaintext + kTagBytes;
  static constexpr std::size_t kMaxFrameBytes = kLengthBytes + kMaxCiphertext;

  using Key = std::array<uint8_t, kKeyBytes>;
  using Header = std::array<uint8_t, kHeaderBytes>;

  enum class Status { kNeedMore, kMessage, kFinal };
  struct Opened {
    boost::system::error_code ec;      // set: the stream is broken (sticky)
    Status status = Status::kNeedMore;  // kNeedMore: `in` holds no complete frame yet
    std::size_t consumed = 0;           // bytes of `in` used by this frame
  };

  SecretStreamFramer();
  ~SecretStreamFramer();  // zeroes both states
  SecretStreamFramer(const SecretStreamFramer&) = delete;
  SecretStreamFramer& operator=(const SecretStreamFramer&) = delete;

  // Sending direction: the header goes to the peer once, before the first frame.
  Header initPush(const Key& txKey);
  // Appends one frame for `plaintext` (at most kMaxPlaintext bytes) to `out`.
  void seal(std::span<const uint8_t> plaintext, bool final, std::vector<uint8_t>& out);
  bool finalSent() const { return finalSent_; }

  // Receiving direction, with the header the peer sent.
  void initPull(const Key& rxKey, const Header& header);
  // Opens the frame at the front of `in` into `plaintext` (replaced, may be empty).
  Opened open(std::span<const uint8_t> in, std::vector<uint8_t>& plaintext);
  // The TCP stream ended: fine after FINAL, `truncated` otherwise.
  boost::system::error_code endOfStream() const;
  bool finalSeen() const { return finalSeen_; }

 private:
  crypto_secretstream_xchacha20poly1305_state push_;
  crypto_secretstream_xchacha20poly1305_state pull_;
  bool pushReady_ = false;
  bool pullReady_ = false;
  bool finalSent_ = false;
  bool finalSeen_ = false;
  boost::system::error_code pullError_;
};

}  // namespace qmesh::dataplane
