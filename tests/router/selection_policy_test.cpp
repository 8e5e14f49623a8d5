#include "router/routing/selection_policy.h"

#include <gtest/gtest.h>

#include <map>

using namespace qmesh::router;

namespace {
// Scripted randomness: returns the queued answers, then 0.
class FakeRandom : public qmesh::Random {
 public:
  std::vector<uint64_t> answers;
  uint64_t below(uint64_t n) override {
    if (answers.empty()) return 0;
    const uint64_t a = answers.front();
    answers.erase(answers.begin());
    return a % n;
  }
  double uniform01() override { return 0; }  // the policy draws integers only
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

namespace {
Load remoteLoad(int64_t outstanding, int64_t slots, int64_t reported, uint64_t idHash, int health = 100) {
  Load l{outstanding, slots};
  l.remote = true;
  l.reportedBusy = reported;
  l.idHash = idHash;
  l.health = health;
  return l;
}
Load localLoad(int64_t outstanding, int64_t slots, uint64_t idHash) {
  Load l{outstanding, slots};
  l.idHash = idHash;
  return l;
}
}  // namespace

TEST(SelectionPolicy, PrefersLocalWorkerOverEquallyLoadedRemoteOne) {
  FakeRandom r;
  auto c = chooseWorker({remoteLoad(0, 4, 0, 1), localLoad(0, 4, 2)}, 0, r);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->index, 1u);
}

TEST(SelectionPolicy, RemoteWorkerWinsWhenLocalIsClearlyBusier) {
  FakeRandom r;
  auto c = chooseWorker({localLoad(2, 4, 1), remoteLoad(0, 4, 0, 2)}, 0, r);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->index, 1u);
}

TEST(SelectionPolicy, RemoteLoadIsTheHigherOfOursAndItsGossipedFigure) {
  FakeRandom r;
  // Gossip says the remote worker is 3/4 busy with other routers' requests: the idle local
  // one (with 1/4 of ours) wins although our own count on the remote is 0.
  auto c = chooseWorker({remoteLoad(0, 4, 3, 1), localLoad(1, 4, 2)}, 0, r);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->index, 1u);
  EXPECT_EQ(c->reason, "least-loaded 1/4");
}

TEST(SelectionPolicy, OverloadedWorkersOnlyWhenNothingElseIsFree) {
  FakeRandom r;
  auto c = chooseWorker({remoteLoad(0, 4, 0, 1, /*health*/ 10), localLoad(3, 4, 2)}, 0, r);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->index, 1u);
  c = chooseWorker({remoteLoad(0, 4, 0, 1, 10), localLoad(4, 4, 2)}, 0, r);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->index, 0u);
}

TEST(SelectionPolicy, SameAffinityKeyAlwaysPicksTheSameWorkerWhileLoadIsEven) {
  FakeRandom r;
  std::vector<Load> workers;
  for (uint64_t i = 0; i < 5; ++i) workers.push_back(localLoad(0, 4, stableHash("w" + std::to_string(i))));
  std::map<std::size_t, int> picked;
  for (int k = 0; k < 20; ++k) {
    const uint64_t key = stableHash("conversation " + std::to_string(k));
    auto first = chooseWorker(workers, key, r);
    auto again = chooseWorker(workers, key, r);
    ASSERT_TRUE(first && again);
    EXPECT_EQ(first->index, again->index);
    EXPECT_EQ(first->reason.rfind("affinity", 0), 0u) << first->reason;
    ++picked[first->index];
  }
  // Different conversations spread over the workers instead of piling on one.
  EXPECT_GE(picked.size(), 3u);
}

TEST(SelectionPolicy, AffinitySpillsToTheNextWorkerWhenItsOwnerIsOverTheLoadBound) {
  FakeRandom r;
  std::vector<Load> workers = {localLoad(0, 4, stableHash("a")), localLoad(0, 4, stableHash("b")),
                               localLoad(0, 4, stableHash("c"))};
  const uint64_t key = stableHash("system prompt + hello");
  auto owner = chooseWorker(workers, key, r);
  ASSERT_TRUE(owner);
  // The owner gets busier than 1.25x the average share after the next request: spill.
  workers[owner->index].outstanding = 3;
  auto spilled = chooseWorker(workers, key, r);
  ASSERT_TRUE(spilled);
  EXPECT_NE(spilled->index, owner->index);
  EXPECT_NE(spilled->reason.find("spilled"), std::string::npos) << spilled->reason;
  // Once the load evens out again, the conversation goes home.
  for (auto& w : workers) w.outstanding = 2;
  auto home = chooseWorker(workers, key, r);
  ASSERT_TRUE(home);
  EXPECT_EQ(home->index, owner->index);
}

// router.prefix_affinity: false. A conversation whose owner is busier (but within the bound)
// goes to the owner with affinity and to the idle worker without.
TEST(SelectionPolicy, AffinityOffPlacesAConversationByLoadAlone) {
  FakeRandom r;
  const std::vector<Load> workers = {localLoad(1, 4, stableHash("owner")), localLoad(0, 4, stableHash("idle"))};
  uint64_t key = 0;
  for (int k = 0; k < 64 && key == 0; ++k) {
    const uint64_t candidate = stableHash("conversation " + std::to_string(k));
    if (chooseWorker(workers, candidate, r)->index == 0) key = candidate;
  }
  ASSERT_NE(key, 0u) << "no conversation owned by worker 0 among 64";
  auto on = chooseWorker(workers, key, r);
  ASSERT_TRUE(on);
  EXPECT_EQ(on->reason, "affinity 1/4");
  SelectionParams off;
  off.prefixAffinity = false;
  for (int i = 0; i < 10; ++i) {
    auto c = chooseWorker(workers, key, r, off);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->index, 1u);
    EXPECT_EQ(c->reason, "least-loaded 0/4");
  }
}

TEST(SelectionPolicy, StableHashIsFnv1a) {
  // Routers of one mesh must agree on it across builds: pin the published FNV-1a values.
  EXPECT_EQ(stableHash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(stableHash("a"), 0xaf63dc4c8601ec8cull);
}
