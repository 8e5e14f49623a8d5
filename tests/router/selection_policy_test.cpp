#include "router/routing/selection_policy.h"

#include <gtest/gtest.h>

#include <map>

using namespace qmesh::router;

namespace {
// Scripted randomness: returns the queued answers, then 0.
class FakeRandom : public Random {
 public:
  std::vector<uint64_t> answers;
  uint64_t below(uint64_t n) override {
    if (answers.empty()) return 0;
    const uint64_t a = answers.front();
    answers.erase(answers.begin());
    return a % n;
  }
};
}  // namespace

TEST(SelectionPolicy, PicksLeastOutstandingRelativeToSlots) {
  FakeRandom r;
  // 3/8 = 0.375 beats 1/2 = 0.5 and 2/4 = 0.5, although its absolute count is highest.
  auto c = chooseLeastLoaded({{1, 2}, {3, 8}, {2, 4}}, r);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->index, 1u);
  EXPECT_EQ(c->reason, "least-loaded 3/8");
}

TEST(SelectionPolicy, SkipsWorkersWithoutAFreeSlot) {
  FakeRandom r;
  auto c = chooseLeastLoaded({{4, 4}, {3, 4}}, r);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->index, 1u);
  EXPECT_FALSE(chooseLeastLoaded({{4, 4}, {2, 2}}, r));
  EXPECT_FALSE(chooseLeastLoaded({}, r));
}

TEST(SelectionPolicy, BreaksTiesWithTheInjectedRandom) {
  FakeRandom r;
  r.answers = {0, 1};  // 2nd candidate wins its draw (0 of 2), 3rd loses (1 of 3)
  auto c = chooseLeastLoaded({{1, 4}, {1, 4}, {1, 4}}, r);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->index, 1u);
}

TEST(SelectionPolicy, TiesAreSpreadEvenlyWithRealRandomness) {
  StdRandom r;
  std::map<std::size_t, int> wins;
  for (int i = 0; i < 3000; ++i) ++wins[chooseLeastLoaded({{0, 4}, {0, 4}, {0, 4}}, r)->index];
  for (std::size_t i = 0; i < 3; ++i) EXPECT_GT(wins[i], 800) << "candidate " << i;
}
