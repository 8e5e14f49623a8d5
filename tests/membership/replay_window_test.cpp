#include "router/membership/replay_window.h"

#include <gtest/gtest.h>

namespace qmesh::membership {
namespace {

TEST(ReplayWindow, AcceptsEachCounterExactlyOnce) {
  ReplayWindow w;
  for (uint64_t c = 0; c < 5000; ++c) ASSERT_TRUE(w.accept(c)) << c;
  for (uint64_t c = 5000 - 100; c < 5000; ++c) EXPECT_FALSE(w.accept(c)) << c;
}

TEST(ReplayWindow, AcceptsReorderingWithinTheWindow) {
  ReplayWindow w;
  EXPECT_TRUE(w.accept(1000));
  EXPECT_TRUE(w.accept(999));
  EXPECT_TRUE(w.accept(10));
  EXPECT_TRUE(w.accept(1001));
  EXPECT_FALSE(w.accept(999));
}

TEST(ReplayWindow, RejectsCountersOlderThanTheWindow) {
  ReplayWindow w;
  const uint64_t top = 100000;
  EXPECT_TRUE(w.accept(top));
  EXPECT_FALSE(w.accept(top - ReplayWindow::kWindow));
  EXPECT_TRUE(w.accept(top - ReplayWindow::kWindow + 1));
}

TEST(ReplayWindow, LargeJumpForgetsOldBitsButNotTheBoundary) {
  ReplayWindow w;
  for (uint64_t c = 0; c < 3000; ++c) w.accept(c);
  EXPECT_TRUE(w.accept(1'000'000));
  EXPECT_FALSE(w.accept(2999));            // now far outside the window
  EXPECT_TRUE(w.accept(1'000'000 - 64));   // inside, never seen
  EXPECT_TRUE(w.accept(1'000'000 - 65));
  EXPECT_FALSE(w.accept(1'000'000 - 64));
}

TEST(ReplayWindow, SlidingAcrossRingWordsClearsStaleBits) {
  ReplayWindow w;
  // Walk far enough that every ring word is reused several times, with gaps.
  for (uint64_t c = 0; c < 20000; c += 3) ASSERT_TRUE(w.accept(c)) << c;
  for (uint64_t c = 20000 - 600; c < 20000; ++c) {
    const bool seen = c % 3 == 0;
    EXPECT_EQ(w.accept(c), !seen) << c;
  }
}

TEST(ReplayWindow, RebuiltFromAFloorRejectsEverythingUpToItAndAcceptsWhatFollows) {
  for (uint64_t floor : {0ull, 63ull, 64ull, 1000ull, 100000ull}) {
    ReplayWindow w = ReplayWindow::seenUpTo(floor);
    EXPECT_FALSE(w.accept(floor)) << floor;
    if (floor > 0) {
      EXPECT_FALSE(w.accept(floor - 1)) << floor;
    }
    if (floor > 500) {
      EXPECT_FALSE(w.accept(floor - 500)) << floor;
    }
    EXPECT_TRUE(w.accept(floor + 2)) << floor;
    EXPECT_TRUE(w.accept(floor + 1)) << floor;  // reordered, but never seen
    EXPECT_TRUE(w.accept(floor + 300)) << floor;
    EXPECT_FALSE(w.accept(floor + 2)) << floor;
  }
}

}  // namespace
}  // namespace qmesh::membership
