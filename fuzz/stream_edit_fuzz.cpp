// The event framing and rewriting of a continued stream (router/proxy/stream_edit.h) over
// bytes a worker, or a mesh peer, controls. Input: [kind u8][cut seed u32][split u16][stream].
// Properties:
//   - EventFramer hands out only whole events, the same ones however TCP cut the stream (fed
//     whole, byte by byte, or in chunks sized by the seed), and never more than came in;
//   - StreamEditor takes the events before `split` as the first worker's, the rest as a
//     continuing worker's, and never throws; what it hands the client is whole events only,
//     and the progress it keeps is sane (reasoning within the tokens, counts never drop).
#include <cstring>
#include <random>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "router/proxy/stream_edit.h"

using namespace qmesh::router;

namespace {

// Everything EventFramer returns for `stream` pushed in the given pieces, concatenated.
template <class Pieces>
std::string framed(EventFramer& f, Pieces pieces) {
  std::string out;
  pieces([&](std::string_view p) { out.append(f.push(p)); });
  return out;
}

// `text` is a run of whole events: cutting it into events and joining them gives it back,
// and a fresh framer given all of it holds nothing back.
bool wholeEvents(std::string_view text) {
  std::string joined;
  for (auto e : splitEvents(text)) joined.append(e);
  EventFramer f;
  const std::string_view again = f.push(text);
  return joined == text && again == text && !f.holding();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 7) return 0;
  const StreamKind kind = (data[0] & 1) ? StreamKind::Completion : StreamKind::Chat;
  uint32_t seed = 0;
  std::memcpy(&seed, data + 1, 4);
  const std::size_t split = static_cast<std::size_t>(data[5]) | static_cast<std::size_t>(data[6]) << 8;
  const std::string_view stream(reinterpret_cast<const char*>(data + 7), size - 7);

  EventFramer whole, bytes, chunks;
  const std::string a = framed(whole, [&](auto push) { push(stream); });
  const std::string b = framed(bytes, [&](auto push) {
    for (const char& c : stream) push(std::string_view(&c, 1));
  });
  std::minstd_rand cuts(seed);
  const std::string c = framed(chunks, [&](auto push) {
    for (std::size_t at = 0; at < stream.size();) {
      const std::size_t n = std::min<std::size_t>(stream.size() - at, cuts() % 23);
      push(stream.substr(at, n));
      at += n;
    }
  });
  FUZZ_CHECK(a == b && a == c);
  FUZZ_CHECK(whole.events() == bytes.events() && whole.events() == chunks.events());
  FUZZ_CHECK(a.size() <= stream.size() && stream.substr(0, a.size()) == a);
  FUZZ_CHECK(wholeEvents(a));

  // The first worker's events, then a continuing worker's (the rest).
  const std::string_view events = a;
  std::size_t cut = 0;
  for (auto e : splitEvents(events)) {
    if (cut + e.size() > split) break;
    cut += e.size();
  }
  StreamEditor editor(kind);
  editor.sentVerbatim(events.substr(0, cut));
  const StreamProgress before = editor.progress();
  FUZZ_CHECK(before.reasoningTokens <= before.tokens && before.reasoningTokens >= 0);
  editor.continued();
  const std::string out = editor.rewrite(events.substr(cut));
  FUZZ_CHECK(wholeEvents(out));
  const StreamProgress& after = editor.progress();
  FUZZ_CHECK(after.tokens >= before.tokens && after.reasoningTokens >= before.reasoningTokens);
  FUZZ_CHECK(after.reasoningTokens <= after.tokens);
  FUZZ_CHECK(editor.continuations() == 1);
  return 0;
}
