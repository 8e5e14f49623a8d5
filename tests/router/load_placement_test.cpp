// Where the mesh loads a model that is loaded nowhere (router/routing/load_placement.h): the
// chooser as a table, and what the directory says about each node and about this one.
#include "router/routing/load_placement.h"

#include <gtest/gtest.h>

using namespace qmesh::router;

namespace {

std::string chosenNode(std::vector<LoadCandidate> c) {
  const auto i = chooseNodeToLoad(c);
  return i ? c[*i].node : "(none)";
}

WorkerInfo remoteWorkerOn(const std::string& node, const std::string& model, WorkerState state, uint64_t freeMiB,
                          int loads) {
  WorkerInfo w;
  w.model = model;
  w.state = state;
  w.remote = true;
  w.node = node;
  w.peer.bytes.fill(static_cast<uint8_t>(node[0]));
  w.dataAddress = "10.0.0." + std::to_string(node[0] - 'a' + 1) + ":7947";
  w.nodeFreeMemoryMiB = freeMiB;
  w.nodeLoadsInProgress = loads;
  return w;
}

}  // namespace

TEST(ChooseNodeToLoad, MostFreeBudgetWins) {
  EXPECT_EQ(chosenNode({{"a", false, 1000, 0}, {"b", false, 4000, 0}, {"c", false, 2000, 0}}), "b");
  EXPECT_EQ(chosenNode({{"a", false, 1000, 0}, {"b", false, kUnboundedMiB, 3}}), "b") << "no budget is the most room";
}

TEST(ChooseNodeToLoad, FewestLoadsInProgressBreakAFreeBudgetTie) {
  EXPECT_EQ(chosenNode({{"a", false, 4000, 2}, {"b", false, 4000, 0}, {"c", false, 4000, 1}}), "b");
  EXPECT_EQ(chosenNode({{"a", false, 4001, 5}, {"b", false, 4000, 0}}), "a") << "the budget comes first";
}

TEST(ChooseNodeToLoad, TheNameBreaksAFullTieSoEveryRouterPicksTheSameNode) {
  EXPECT_EQ(chosenNode({{"c", false, 4000, 1}, {"a", false, 4000, 1}, {"b", false, 4000, 1}}), "a");
  EXPECT_EQ(chosenNode({{"b", false, 4000, 1}, {"a", false, 4000, 1}}), "a");
}

// A node already loading the model is as good as loaded: a second load elsewhere would only
// take memory (routing prefers nodes where the model is loaded).
TEST(ChooseNodeToLoad, ANodeAlreadyLoadingTheModelWinsOverMoreRoomElsewhere) {
  EXPECT_EQ(chosenNode({{"a", false, kUnboundedMiB, 0}, {"b", true, 10, 4}}), "b");
}

TEST(ChooseNodeToLoad, NoCandidateNoChoice) { EXPECT_EQ(chosenNode({}), "(none)"); }

TEST(RemoteLoadSites, OnlyNodesWhereItIsUnloadedOrOnItsWayAndNotHeldUnreachable) {
  WorkerDirectory dir;
  dir.applyRemote("aa", {remoteWorkerOn("a", "m", WorkerState::Unloaded, 100, 0)});
  dir.applyRemote("bb", {remoteWorkerOn("b", "m", WorkerState::Loading, 50, 1)});
  dir.applyRemote("cc", {remoteWorkerOn("c", "m", WorkerState::Unknown, 900, 0)});  // a suspect
  dir.applyRemote("dd", {remoteWorkerOn("d", "m", WorkerState::Failed, 900, 0)});
  dir.applyRemote("ee", {remoteWorkerOn("e", "m", WorkerState::Unloaded, 900, 0)});
  dir.applyRemote("ff", {remoteWorkerOn("f", "other", WorkerState::Unloaded, 900, 0)});
  const TimePoint now{};
  dir.markPeerUnreachable("ee", now, std::chrono::seconds(5));
  const auto sites = remoteLoadSites(dir, "m", now);
  std::vector<std::string> nodes;
  for (const auto& s : sites) nodes.push_back(s.candidate.node + (s.candidate.loading ? "+loading" : ""));
  EXPECT_EQ(nodes, (std::vector<std::string>{"a", "b+loading"}));
  ASSERT_EQ(sites.size(), 2u);
  EXPECT_EQ(sites[0].candidate.freeMemoryMiB, 100u);
  EXPECT_EQ(sites[0].worker->info.dataAddress, "10.0.0.1:7947");
  EXPECT_EQ(sites[1].candidate.loadsInProgress, 1);
}

TEST(RemoteLoadSites, ANodeWithTheModelReadyOnOneWorkerIsNoLoadSite) {
  WorkerDirectory dir;
  dir.applyRemote("aa", {remoteWorkerOn("a", "m", WorkerState::Unloaded, 100, 0),
                         remoteWorkerOn("a", "m", WorkerState::Ready, 100, 0)});
  EXPECT_TRUE(remoteLoadSites(dir, "m", TimePoint{}).empty());
}

// A node that drains (issue 12) is stopping: loading a model there would be lost work.
TEST(RemoteLoadSites, ADrainingNodeIsNoLoadSite) {
  WorkerDirectory dir;
  WorkerInfo draining = remoteWorkerOn("a", "m", WorkerState::Unloaded, 900, 0);
  draining.draining = true;
  dir.applyRemote("aa", {draining});
  dir.applyRemote("bb", {remoteWorkerOn("b", "m", WorkerState::Unloaded, 100, 0)});
  const auto sites = remoteLoadSites(dir, "m", TimePoint{});
  ASSERT_EQ(sites.size(), 1u);
  EXPECT_EQ(sites[0].candidate.node, "b");
}

TEST(LocalFreeMemory, BudgetMinusResidentModelsInMiBAndUnboundedWithoutABudget) {
  WorkerDirectory dir;
  StatusSnapshot s;
  auto add = [&s](const std::string& m, WorkerState st, int64_t pid, uint64_t mib) {
    WorkerInfo w{m, "127.0.0.1", 0, 1, st, pid, false, 0};
    w.memory = mib << 20;
    s.workers.push_back(w);
  };
  add("ready", WorkerState::Ready, 10, 300);
  add("loading", WorkerState::Loading, 11, 200);
  add("unloaded", WorkerState::Unloaded, 0, 1000);
  add("exiting", WorkerState::Unloaded, 12, 100);  // SIGTERMed, not reaped yet: still resident
  add("failed", WorkerState::Failed, 0, 1000);
  dir.apply(s);
  EXPECT_EQ(localFreeMemoryMiB(dir), kUnboundedMiB);
  s.memoryBudget = (1024ull << 20) + 5;
  dir.apply(s);
  EXPECT_EQ(localFreeMemoryMiB(dir), 1024u - 300 - 200 - 100);
  EXPECT_EQ(localLoadsInProgress(dir), 1);
  s.memoryBudget = 100ull << 20;  // over budget (an always-loaded model): none free, no wrap
  dir.apply(s);
  EXPECT_EQ(localFreeMemoryMiB(dir), 0u);
}
