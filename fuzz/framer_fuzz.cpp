// The data plane's record layer (router/dataplane/framer.h). Input: [mode u8][bytes].
//   mode bit 0 clear: `bytes` is a peer's stream, [header 24][frames], pulled with the fixed
//     test key: the seeds are real streams under that key, so mutations reach past the MAC.
//   mode bit 0 set: `bytes` scripts a sender (plaintexts of chosen sizes, the last one FINAL
//     or not) and how TCP cuts the resulting stream into reads; the receiver, reassembling
//     as SecureChannel does, must get exactly the plaintexts back, whatever the cuts.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/fuzz_support.h"
#include "fuzz/stream_check.h"
#include "router/dataplane/framer.h"

using namespace qmesh;
using namespace qmesh::dataplane;

namespace {

void pullStream(std::span<const uint8_t> in) {
  if (in.size() < SecretStreamFramer::kHeaderBytes) return;
  SecretStreamFramer::Header header{};
  std::copy(in.begin(), in.begin() + header.size(), header.begin());
  SecretStreamFramer framer;
  framer.initPull(fuzz::framerKey(), header);
  fuzz::pullAll(framer, in.subspan(header.size()));
}

void roundTrip(FuzzedDataProvider& in) {
  SecretStreamFramer tx, rx;
  const auto header = tx.initPush(fuzz::framerKey());
  rx.initPull(fuzz::framerKey(), header);
  std::vector<std::vector<uint8_t>> sent;
  std::vector<uint8_t> stream;
  const int frames = in.ConsumeIntegralInRange(0, 8);
  const bool final = in.ConsumeBool();
  for (int i = 0; i < frames; ++i) {
    // Sizes around the limit too, without paying for 64 KiB of input.
    std::vector<uint8_t> p(in.ConsumeBool() ? in.ConsumeIntegralInRange<std::size_t>(0, 64)
                                            : in.ConsumeIntegralInRange<std::size_t>(0, SecretStreamFramer::kMaxPlaintext),
                           static_cast<uint8_t>(i));
    tx.seal(p, final && i == frames - 1, stream);
    sent.push_back(std::move(p));
  }
  std::vector<uint8_t> buffered, plain;
  std::size_t at = 0, got = 0;
  while (at < stream.size()) {
    // Once the script runs out, the rest arrives in one read (not byte by byte: that is
    // quadratic in the reassembly buffer and slows the fuzzer to a crawl).
    const std::size_t n = in.remaining_bytes() == 0
                              ? stream.size() - at
                              : std::min(stream.size() - at, in.ConsumeIntegralInRange<std::size_t>(1, 70000));
    buffered.insert(buffered.end(), stream.begin() + static_cast<std::ptrdiff_t>(at),
                    stream.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
    while (!rx.finalSeen()) {  // after FINAL, open() refuses everything (eof)
      const auto r = rx.open(buffered, plain);
      FUZZ_CHECK(!r.ec);
      if (r.status == SecretStreamFramer::Status::kNeedMore) break;
      FUZZ_CHECK(got < sent.size() && plain == sent[got]);
      FUZZ_CHECK((r.status == SecretStreamFramer::Status::kFinal) == (final && got + 1 == sent.size()));
      ++got;
      buffered.erase(buffered.begin(), buffered.begin() + static_cast<std::ptrdiff_t>(r.consumed));
    }
  }
  FUZZ_CHECK(got == sent.size() && buffered.empty());
  FUZZ_CHECK(!rx.endOfStream() == (final && frames > 0));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::useDeterministicRandom();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  fuzz::resetRandom();
  if (data[0] & 1) {
    FuzzedDataProvider in(data + 1, size - 1);
    roundTrip(in);
  } else {
    pullStream({data + 1, size - 1});
  }
  return 0;
}
