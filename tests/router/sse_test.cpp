#include "router/proxy/sse.h"

#include <gtest/gtest.h>

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
