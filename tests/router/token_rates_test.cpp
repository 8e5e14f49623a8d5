// The speed of the streams this node's workers served (router/console/token_rates.h): what
// the console shows for them and what gossip tells the other nodes.
#include "router/console/token_rates.h"

#include <gtest/gtest.h>

namespace qmesh::router {
namespace {

using namespace std::chrono_literals;

TEST(TokenRates, IsTheStreamsTokensOverTheirDurationsPerModel) {
  TokenRates r;
  const TimePoint t0{};
  r.record("demo", 100, 2000ms, t0);
  r.record("demo", 50, 3000ms, t0 + 1s);
  r.record("other", 10, 1000ms, t0 + 1s);
  EXPECT_DOUBLE_EQ(r.perSecond("demo", t0 + 2s), 30.0);  // 150 tokens in 5 s of streams
  EXPECT_DOUBLE_EQ(r.perSecond("other", t0 + 2s), 10.0);
  EXPECT_DOUBLE_EQ(r.perSecond("none", t0 + 2s), 0.0);
}

TEST(TokenRates, ForgetsStreamsOlderThanAMinuteAndAnswersWithoutTokens) {
  TokenRates r;
  const TimePoint t0{};
  r.record("demo", 100, 1000ms, t0);
  r.record("demo", 0, 1000ms, t0 + 1s);  // a JSON answer: no tokens counted, no speed
  EXPECT_DOUBLE_EQ(r.perSecond("demo", t0 + 59s), 100.0);
  EXPECT_DOUBLE_EQ(r.perSecond("demo", t0 + 60s), 0.0);
  r.record("demo", 30, 1000ms, t0 + 61s);
  EXPECT_DOUBLE_EQ(r.perSecond("demo", t0 + 61s), 30.0);
}

TEST(TokenRates, ServedHereOnlyWhenTheRoutesLastHopIsAWorkerOfThisNode) {
  EXPECT_TRUE(servedHere("a/demo@127.0.0.1:4000 (least-loaded 0/2)", "a"));
  EXPECT_FALSE(servedHere("a (least-loaded 0/2) > b/demo@127.0.0.1:4000 (least-loaded 0/2)", "a"));
  EXPECT_FALSE(servedHere("a (least-loaded 0/2) > b", "a"));
  // A stream continued elsewhere (stream_continuation.cpp) ended on the other node's worker.
  EXPECT_FALSE(servedHere("a/demo@127.0.0.1:4000 (x), continued on a (y) > b after upstream_reset", "a"));
  EXPECT_TRUE(servedHere("a/demo@127.0.0.1:4000 (x), continued on a/demo#2@127.0.0.1:4001 (y) after upstream_reset", "a"));
  EXPECT_FALSE(servedHere("ab/demo@127.0.0.1:4000 (x)", "a")) << "another node whose name starts the same";
  EXPECT_FALSE(servedHere("", "a"));
  EXPECT_FALSE(servedHere("a", "a"));
}

}  // namespace
}  // namespace qmesh::router
