// The SSE scanner (router/proxy/sse.h) over an upstream's byte stream, which a worker or a
// mesh peer controls. Input: [cut seed u32][stream]. The scanner's verdicts (events, DONE,
// at a boundary) must match a plain reading of the spec (Reference below) and must not
// depend on how TCP cut the stream: fed whole, byte by byte, and in chunks sized by the
// seed, it must say the same; and a keepalive comment injected at a boundary is one event.
#include <cstring>
#include <random>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "router/proxy/sse.h"

using namespace qmesh::router;

namespace {

bool same(const SseScanner& a, const SseScanner& b) {
  return a.events() == b.events() && a.sawDone() == b.sawDone() && a.atBoundary() == b.atBoundary();
}

// The SSE spec read plainly, on the whole stream at once: lines end at "\r\n", "\r" or "\n";
// a blank line ends an event (comments included); an event is [DONE] if one of its lines
// is exactly "data: [DONE]". The scanner, which sees the stream a byte at a time and keeps
// only a few bytes of a line, must agree with it.
struct Reference {
  uint64_t events = 0;
  bool done = false;
  bool boundary = true;
};
Reference reference(std::string_view s) {
  Reference r;
  bool inEvent = false, eventDone = false;
  std::string line;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c != '\r' && c != '\n') {
      line += c;
      continue;
    }
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    if (line.empty()) {
      if (inEvent) ++r.events;
      r.done |= inEvent && eventDone;
      inEvent = eventDone = false;
    } else {
      inEvent = true;
      eventDone |= line == "data: [DONE]";
      line.clear();
    }
  }
  r.boundary = !inEvent && line.empty();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t seed = 0;
  std::memcpy(&seed, data, 4);
  const std::string_view stream(reinterpret_cast<const char*>(data + 4), size - 4);

  SseScanner whole, bytes, chunks;
  whole.feed(stream);
  for (char c : stream) bytes.feed(std::string_view(&c, 1));
  std::minstd_rand cuts(seed);
  for (std::size_t at = 0; at < stream.size();) {
    const std::size_t n = std::min<std::size_t>(stream.size() - at, cuts() % 17);
    chunks.feed(stream.substr(at, n));
    at += n;
  }
  const Reference ref = reference(stream);
  FUZZ_CHECK(whole.events() == ref.events && whole.sawDone() == ref.done && whole.atBoundary() == ref.boundary);
  FUZZ_CHECK(same(whole, bytes));
  FUZZ_CHECK(same(whole, chunks));
  if (stream.empty()) FUZZ_CHECK(whole.atBoundary() && whole.events() == 0);

  // Injecting a comment at a boundary adds exactly one event and leaves us at a boundary.
  if (whole.atBoundary()) {
    const uint64_t before = whole.events();
    whole.feed(sseComment("keepalive"));
    FUZZ_CHECK(whole.atBoundary() && whole.events() == before + 1);
  }
  return 0;
}
