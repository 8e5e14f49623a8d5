// Data-plane handshake messages (router/dataplane/handshake.h), both roles, followed by the
// secretstream data that comes next on the same connection. Input: [mode u8][bytes].
//   mode bit 0 clear: we are the server (identity 1) and `bytes` is what a client sends:
//     prefix, hello body, then its stream header and confirm frame and any frames after.
//     Bit 1 set: the membership check refuses the client.
//   mode bit 0 set: we are the client (identity 2) dialling identity 1 and `bytes` is the
//     server's reply head, reply body, its stream header, then its frames.
// Randomness is deterministic (fuzz_support.h), so the seeds fuzz_make_corpus built with a
// real peer verify here and the fuzzer starts from a completed handshake.
#include <cstring>

#include "fuzz/fuzz_support.h"
#include "fuzz/stream_check.h"
#include "router/dataplane/handshake.h"

using namespace qmesh;
using namespace qmesh::dataplane;

namespace {

SecretStreamFramer::Header headerFrom(std::span<const uint8_t> in) {
  SecretStreamFramer::Header h{};
  std::memcpy(h.data(), in.data(), h.size());
  return h;
}

void asServer(bool admit, std::span<const uint8_t> in) {
  ServerHandshake hs(fuzz::identity(1));
  if (in.size() < kPrefixBytes) return;
  if (auto ec = hs.receivePrefix(in.first<kPrefixBytes>())) {
    FUZZ_CHECK(hs.reply().size() <= kReplyHeadBytes);
    return;
  }
  in = in.subspan(kPrefixBytes);
  if (in.size() < kClientHelloBodyBytes) return;
  bool asked = false;
  SessionKeys keys;
  const auto ec = hs.receiveBody(in.first<kClientHelloBodyBytes>(), [&](const NodeId&) {
    asked = true;
    return admit;
  }, keys);
  in = in.subspan(kClientHelloBodyBytes);
  if (ec) {
    FUZZ_CHECK(hs.reply().size() <= kReplyHeadBytes);  // a refusal carries no keys
    return;
  }
  FUZZ_CHECK(asked && admit);
  FUZZ_CHECK(hs.reply().size() == kReplyHeadBytes + kReplyBodyBytes);
  SecretStreamFramer framer;
  framer.initPush(keys.tx);
  if (in.size() < SecretStreamFramer::kHeaderBytes) return;
  framer.initPull(keys.rx, headerFrom(in));
  fuzz::pullAll(framer, in.subspan(SecretStreamFramer::kHeaderBytes));
}

void asClient(std::span<const uint8_t> in) {
  ClientHandshake hs(fuzz::identity(2), fuzz::identity(1).id());
  if (in.size() < kReplyHeadBytes) return;
  if (hs.checkReplyHead(in.first<kReplyHeadBytes>())) return;
  in = in.subspan(kReplyHeadBytes);
  if (in.size() < kReplyBodyBytes + SecretStreamFramer::kHeaderBytes) return;
  SessionKeys keys;
  if (hs.finish(in.first<kReplyBodyBytes>(), keys)) return;
  in = in.subspan(kReplyBodyBytes);
  SecretStreamFramer framer;
  framer.initPull(keys.rx, headerFrom(in));
  const auto header = framer.initPush(keys.tx);
  std::vector<uint8_t> confirm(header.begin(), header.end());
  framer.seal({}, false, confirm);
  fuzz::pullAll(framer, in.subspan(SecretStreamFramer::kHeaderBytes));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::useDeterministicRandom();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  fuzz::resetRandom();
  if (data[0] & 1)
    asClient({data + 1, size - 1});
  else
    asServer((data[0] & 2) == 0, {data + 1, size - 1});
  return 0;
}
