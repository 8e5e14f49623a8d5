// Restart delays and crash-loop detection (supervisor/backoff.h): pure maths, from tables.
#include "supervisor/backoff.h"

#include <gtest/gtest.h>

#include <climits>

#include "tests/support/fake_random.h"

namespace qmesh {
namespace {

using namespace std::chrono_literals;
using test::FakeRandom;

RestartSettings settings(Millis initial = 250ms, Millis max = 30000ms, double multiplier = 2.0,
                         double jitter = 0.2) {
  RestartSettings s;
  s.backoff_initial = initial;
  s.backoff_max = max;
  s.backoff_multiplier = multiplier;
  s.jitter = jitter;
  s.max_restarts = 5;
  s.window = 60s;
  return s;
}

struct DelayCase {
  int attempt;
  double u;  // what Random::uniform01() returns
  int64_t expected_ms;
};

TEST(BackoffDelayTest, DoublesFromInitialUntilCappedWithoutJitter) {
  const RestartSettings s = settings();
  const DelayCase cases[] = {
      {0, 0.5, 250},     {1, 0.5, 500},     {2, 0.5, 1000},    {3, 0.5, 2000},
      {4, 0.5, 4000},    {5, 0.5, 8000},    {6, 0.5, 16000},   {7, 0.5, 30000},  // 32000 capped
      {8, 0.5, 30000},   {20, 0.5, 30000},  {1000, 0.5, 30000}, {INT_MAX, 0.5, 30000},
      {-1, 0.5, 250},    {INT_MIN, 0.5, 250},  // nonsense attempts are the first one
  };
  for (const auto& c : cases) {
    FakeRandom random(c.u);
    EXPECT_EQ(backoffDelay(s, c.attempt, random).count(), c.expected_ms) << "attempt " << c.attempt;
  }
}

TEST(BackoffDelayTest, JitterScalesByOneMinusToOnePlusJitter) {
  const RestartSettings s = settings();
  const DelayCase cases[] = {
      // u = 0 is the low edge: x(1 - 0.2)
      {0, 0.0, 200},     {3, 0.0, 1600},    {7, 0.0, 24000},
      // u = 0.5 is no jitter
      {0, 0.5, 250},     {3, 0.5, 2000},    {7, 0.5, 30000},
      // u -> 1 approaches the high edge: x(1 + 0.2 * 0.998), rounded
      {0, 0.999, 300},   {3, 0.999, 2399},  {7, 0.999, 35988},
      {0, 0.25, 225},    {0, 0.75, 275},
  };
  for (const auto& c : cases) {
    FakeRandom random(c.u);
    EXPECT_EQ(backoffDelay(s, c.attempt, random).count(), c.expected_ms)
        << "attempt " << c.attempt << ", u " << c.u;
  }
}

TEST(BackoffDelayTest, StaysWithinJitterBoundsForAnyRandomValue) {
  const RestartSettings s = settings();
  for (int attempt = 0; attempt < 12; ++attempt) {
    FakeRandom unjittered(0.5);
    const double base = static_cast<double>(backoffDelay(s, attempt, unjittered).count());
    for (double u = 0.0; u < 1.0; u += 0.01) {
      FakeRandom random(u);
      const auto d = static_cast<double>(backoffDelay(s, attempt, random).count());
      EXPECT_GE(d, base * 0.8 - 0.5) << "attempt " << attempt << ", u " << u;
      EXPECT_LE(d, base * 1.2 + 0.5) << "attempt " << attempt << ", u " << u;
    }
  }
}

TEST(BackoffDelayTest, DrawsOneRandomNumberPerDelay) {
  FakeRandom random(0.5);
  backoffDelay(settings(), 3, random);
  EXPECT_EQ(random.calls(), 1);
}

TEST(BackoffDelayTest, ZeroJitterIgnoresTheRandomValue) {
  const RestartSettings s = settings(100ms, 10000ms, 2.0, 0.0);
  for (double u : {0.0, 0.5, 0.999}) {
    FakeRandom random(u);
    EXPECT_EQ(backoffDelay(s, 2, random), 400ms) << "u " << u;
  }
}

TEST(BackoffDelayTest, HonoursANonIntegerMultiplier) {
  const RestartSettings s = settings(100ms, 1000ms, 1.5, 0.0);
  FakeRandom random(0.5);
  const int64_t expected[] = {100, 150, 225, 338, 506, 759, 1000, 1000};  // 337.5 rounds up
  for (int attempt = 0; attempt < 8; ++attempt)
    EXPECT_EQ(backoffDelay(s, attempt, random).count(), expected[attempt]) << "attempt " << attempt;
}

TEST(BackoffDelayTest, MultiplierOfOneIsAConstantDelay) {
  const RestartSettings s = settings(700ms, 30000ms, 1.0, 0.0);
  FakeRandom random(0.5);
  for (int attempt : {0, 1, 5, 50}) EXPECT_EQ(backoffDelay(s, attempt, random), 700ms);
}

TEST(BackoffDelayTest, InitialAboveMaxIsCappedFromTheStart) {
  const RestartSettings s = settings(5000ms, 1000ms, 2.0, 0.0);
  FakeRandom random(0.5);
  EXPECT_EQ(backoffDelay(s, 0, random), 1000ms);
}

class RestartHistoryTest : public ::testing::Test {
 protected:
  TimePoint at(Millis offset) const { return t0_ + offset; }
  TimePoint t0_ = TimePoint{} + std::chrono::hours(1);
};

TEST_F(RestartHistoryTest, CountsRestartsInsideTheWindow) {
  RestartHistory h(settings());  // 5 within 60 s
  EXPECT_EQ(h.recent(), 0);
  EXPECT_EQ(h.record(at(0s)), 1);
  EXPECT_EQ(h.record(at(10s)), 2);
  EXPECT_EQ(h.record(at(20s)), 3);
  EXPECT_EQ(h.recent(), 3);
  EXPECT_FALSE(h.crashLoop());
}

TEST_F(RestartHistoryTest, ForgetsRestartsOlderThanTheWindow) {
  RestartHistory h(settings());
  const struct {
    Millis when;
    int expected;
  } steps[] = {
      {0s, 1},
      {30s, 2},
      {60s, 3},        // exactly `window` after the first: still inside (inclusive)
      {60001ms, 3},    // now the first is 60.001 s old: dropped
      {90s, 4},        // the one at 30 s is exactly 60 s old: stays
      {90001ms, 4},    // 30 s dropped
      {200s, 1},       // a long quiet spell forgets everything before
  };
  for (const auto& s : steps)
    EXPECT_EQ(h.record(at(s.when)), s.expected) << "at " << s.when.count() << " ms";
}

TEST_F(RestartHistoryTest, CrashLoopIsMoreThanMaxRestartsInsideTheWindow) {
  RestartHistory h(settings());
  for (int i = 0; i < 5; ++i) {
    h.record(at(Millis(i * 1000)));
    EXPECT_FALSE(h.crashLoop()) << "after " << i + 1 << " restarts";
  }
  h.record(at(5s));
  EXPECT_TRUE(h.crashLoop());
}

TEST_F(RestartHistoryTest, RestartsSpreadWiderThanTheWindowNeverLoop) {
  RestartHistory h(settings());
  for (int i = 0; i < 100; ++i) {
    EXPECT_LE(h.record(at(Millis(int64_t{i} * 12001))), 5);  // 5 per 60 s at most
    EXPECT_FALSE(h.crashLoop()) << "restart " << i;
  }
}

TEST_F(RestartHistoryTest, ClearForgetsEverything) {
  RestartHistory h(settings());
  for (int i = 0; i < 6; ++i) h.record(at(Millis(i)));
  ASSERT_TRUE(h.crashLoop());
  h.clear();
  EXPECT_EQ(h.recent(), 0);
  EXPECT_FALSE(h.crashLoop());
  EXPECT_EQ(h.record(at(10ms)), 1);
}

TEST_F(RestartHistoryTest, ZeroMaxRestartsMakesTheFirstRestartALoop) {
  RestartSettings s = settings();
  s.max_restarts = 0;
  RestartHistory h(s);
  EXPECT_FALSE(h.crashLoop());
  h.record(at(0s));
  EXPECT_TRUE(h.crashLoop());
}

}  // namespace
}  // namespace qmesh
