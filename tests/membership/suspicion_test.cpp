#include "router/membership/suspicion.h"

#include <gtest/gtest.h>

#include "tests/membership/membership_test_util.h"

namespace qmesh::membership {
namespace {

using namespace std::chrono_literals;
using test::idOf;
using ms = std::chrono::milliseconds;

ms asMs(Duration d) { return std::chrono::duration_cast<ms>(d); }

TEST(Suspicion, MinimumTimeoutGrowsWithLog10OfClusterSize) {
  struct Case { double alpha; std::size_t n; ms interval; ms expected; };
  const Case cases[] = {
      {4, 0, 200ms, 800ms},      // never below alpha intervals
      {4, 1, 200ms, 800ms},
      {4, 10, 200ms, 800ms},
      {4, 100, 200ms, 1600ms},
      {4, 1000, 200ms, 2400ms},
      {4, 10, 1000ms, 4000ms},   // memberlist LAN at 10 nodes: 4 s
      {4, 1000, 1000ms, 12000ms},
      {5, 100, 500ms, 5000ms},
  };
  for (const Case& c : cases)
    EXPECT_EQ(asMs(suspicionMinTimeout(c.alpha, c.n, c.interval)), c.expected)
        << "alpha " << c.alpha << " n " << c.n;
}

TEST(Suspicion, TimeoutShrinksLogarithmicallyWithConfirmations) {
  struct Case { std::size_t k; std::size_t confirmations; ms expected; };
  // min 1 s, max 6 s: timeout = max(min, 6 - 5 * log(c+1)/log(k+1)) seconds
  const Case cases[] = {
      {3, 0, 6000ms}, {3, 1, 3500ms}, {3, 2, 2037ms}, {3, 3, 1000ms}, {3, 10, 1000ms},
      {0, 0, 1000ms},  // no confirmations expected (tiny cluster): straight to the minimum
      {1, 0, 6000ms}, {1, 1, 1000ms},
  };
  for (const Case& c : cases)
    EXPECT_EQ(asMs(suspicionTimeout(1s, 6s, c.k, c.confirmations)), c.expected)
        << "k " << c.k << " c " << c.confirmations;
}

TEST(Suspicion, ExpectedConfirmationsIsAlphaMinusTwoCappedByPossibleAccusers) {
  EXPECT_EQ(expectedConfirmations(4, 10), 2u);
  EXPECT_EQ(expectedConfirmations(4, 1000), 2u);
  EXPECT_EQ(expectedConfirmations(4, 3), 1u);  // only one other member could confirm
  EXPECT_EQ(expectedConfirmations(4, 2), 0u);
  EXPECT_EQ(expectedConfirmations(1, 10), 0u);
}

TEST(Suspicion, DeadlineMovesEarlierOnlyForNewAccusers) {
  const TimePoint start{};
  Suspicion s(start, 1s, 6s, 3, idOf(1));
  EXPECT_EQ(s.deadline(), start + 6s);
  EXPECT_FALSE(s.confirm(idOf(1)));  // the original accuser again
  EXPECT_EQ(s.deadline(), start + 6s);
  EXPECT_TRUE(s.confirm(idOf(2)));
  EXPECT_EQ(asMs(s.deadline() - start), 3500ms);
  EXPECT_FALSE(s.confirm(idOf(2)));
  EXPECT_EQ(s.confirmations(), 1u);
  EXPECT_TRUE(s.confirm(idOf(3)));
  EXPECT_TRUE(s.confirm(idOf(4)));
  EXPECT_EQ(s.deadline(), start + 1s);
}

}  // namespace
}  // namespace qmesh::membership
