// Shared by the handshake and framer harnesses: pull every frame out of `in` the way
// SecureChannel does (open the front frame, drop what it consumed, repeat) and check the
// framer's contract on the way.
#pragma once

#include "fuzz/fuzz_support.h"
#include "router/dataplane/framer.h"

namespace qmesh::fuzz {

inline void pullAll(dataplane::SecretStreamFramer& framer, std::span<const uint8_t> in) {
  using Status = dataplane::SecretStreamFramer::Status;
  std::vector<uint8_t> plain;
  for (;;) {
    const auto r = framer.open(in, plain);
    if (r.ec) {
      // Sticky: the stream position is lost, nothing may open after a failure.
      FUZZ_CHECK(framer.open(in, plain).ec);
      return;
    }
    if (r.status == Status::kNeedMore) {
      FUZZ_CHECK(r.consumed == 0);
      return;
    }
    FUZZ_CHECK(r.consumed >= dataplane::SecretStreamFramer::kLengthBytes +
                                dataplane::SecretStreamFramer::kTagBytes);
    FUZZ_CHECK(r.consumed <= in.size());
    FUZZ_CHECK(plain.size() <= dataplane::SecretStreamFramer::kMaxPlaintext);
    FUZZ_CHECK((r.status == Status::kFinal) == framer.finalSeen());
    in = in.subspan(r.consumed);
  }
}

}  // namespace qmesh::fuzz
