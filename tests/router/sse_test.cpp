#include "router/proxy/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace qmesh::router;

TEST(SseScanner, CountsEventsAndKnowsBoundaries) {
  SseScanner s;
  EXPECT_TRUE(s.atBoundary());
  s.feed("data: {\"a\":1}\n");
  EXPECT_FALSE(s.atBoundary());
  s.feed("\n");
  EXPECT_TRUE(s.atBoundary());
  EXPECT_EQ(s.events(), 1u);
}

TEST(SseScanner, FollowsEventsSplitAnywhereAcrossReads) {
  const std::string stream = "data: one\n\ndata: two\r\n\r\n: comment\n\ndata: [DONE]\n\n";
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    SseScanner s;
    s.feed(stream.substr(0, split));
    s.feed(stream.substr(split));
    EXPECT_EQ(s.events(), 4u) << "split at " << split;
    EXPECT_TRUE(s.atBoundary()) << "split at " << split;
    EXPECT_TRUE(s.sawDone()) << "split at " << split;
  }
}

TEST(SseScanner, IsNotAtABoundaryInsideAMultiLineEvent) {
  SseScanner s;
  s.feed("event: x\ndata: a\n");
  EXPECT_FALSE(s.atBoundary());
  s.feed("data: b\n\n");
  EXPECT_TRUE(s.atBoundary());
  EXPECT_EQ(s.events(), 1u);
}

TEST(SseScanner, DoneOnlyCountsAsAWholeLine) {
  SseScanner s;
  s.feed("data: [DONE] not really\n\n");
  EXPECT_FALSE(s.sawDone());
  s.feed("data: [DONE]\r\n\r\n");
  EXPECT_TRUE(s.sawDone());
}

TEST(SseScanner, KeepaliveCommentIsAValidEvent) {
  EXPECT_EQ(sseComment("keepalive"), ": keepalive\n\n");
  SseScanner s;
  s.feed(sseComment("keepalive"));
  EXPECT_TRUE(s.atBoundary());
}

namespace {

// The scanner's rules, one byte at a time and nothing else: the reference for feed()'s
// line-at-a-time path.
struct ByteByByte {
  bool lastWasCr = false, atLineStart = true, eventIsDone = false, sawDone = false;
  uint64_t pending = 0, events = 0;
  std::string line;
  void feed(std::string_view bytes) {
    for (char c : bytes) {
      if (c == '\n' && lastWasCr) {
        lastWasCr = false;
        if (pending > 0) ++pending;
        continue;
      }
      lastWasCr = c == '\r';
      if (c == '\n' || c == '\r') {
        if (atLineStart) {
          if (pending > 0 && ++events && eventIsDone) sawDone = true;
          pending = 0;
          eventIsDone = false;
          line.clear();
          continue;
        }
        if (line == "data: [DONE]") eventIsDone = true;
        line.clear();
        atLineStart = true;
        ++pending;
        continue;
      }
      atLineStart = false;
      ++pending;
      if (line.size() <= 12) line += c;
    }
  }
};

}  // namespace

// feed() takes whole lines at once where no '\r' is involved and goes byte by byte
// otherwise; it must agree with the byte-by-byte rules on every boundary, count and
// [DONE], however the stream is split.
TEST(SseScanner, LineAtATimeAgreesWithByteByByteOnEveryStream) {
  const std::vector<std::string> pieces = {"data: x", "\n", "\r", "\r\n", "data: [DONE]", ": c", "data: [DONE]x", "abc"};
  uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  for (int round = 0; round < 2000; ++round) {
    std::string stream;
    for (int i = 0; i < 12; ++i) stream += pieces[next() % pieces.size()];
    SseScanner s;
    ByteByByte ref;
    for (std::size_t at = 0; at < stream.size();) {
      const std::string part = stream.substr(at, 1 + next() % 9);
      s.feed(part);
      ref.feed(part);
      at += part.size();
      ASSERT_EQ(s.atBoundary(), ref.pending == 0) << stream;
      ASSERT_EQ(s.events(), ref.events) << stream;
      ASSERT_EQ(s.sawDone(), ref.sawDone) << stream;
    }
  }
}
