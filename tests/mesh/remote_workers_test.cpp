// A member's gossip as routable workers: what a suspect keeps (its models) and loses (every
// request) until it refutes.
#include "router/mesh/remote_workers.h"

#include <gtest/gtest.h>

#include <chrono>

using namespace qmesh::router;
using qmesh::membership::Member;
using qmesh::membership::MemberState;

namespace {

Member memberB(MemberState state) {
  Member m;
  m.id.bytes.fill(0xB0);
  m.name = "b";
  m.state = state;
  return m;
}

NodeMeta twoReadyWorkers() {
  NodeMeta meta;
  meta.dataAddress = "10.0.0.2:7947";
  meta.workers.push_back({"demo-b", WorkerState::Ready, 4, 1, 2, 70, false});
  meta.workers.push_back({"embed", WorkerState::Ready, 0, 0, 0, 90, true});
  return meta;
}

}  // namespace

TEST(RemoteWorkers, AliveMembersWorkersCarryWhatItGossiped) {
  const Member b = memberB(MemberState::kAlive);
  const auto workers = remoteWorkersOf(b, twoReadyWorkers());
  ASSERT_EQ(workers.size(), 2u);
  const WorkerInfo& w = workers[0];
  EXPECT_EQ(w.model, "demo-b");
  EXPECT_EQ(w.state, WorkerState::Ready);
  EXPECT_EQ(w.slots, 4);
  EXPECT_TRUE(w.remote);
  EXPECT_EQ(w.node, "b");
  EXPECT_EQ(w.peer, b.id);
  EXPECT_EQ(w.dataAddress, "10.0.0.2:7947");
  EXPECT_EQ(w.inFlight, 1);
  EXPECT_EQ(w.queued, 2);
  EXPECT_EQ(w.health, 70);
  EXPECT_FALSE(w.embeddings);
  EXPECT_TRUE(workers[1].embeddings);
  EXPECT_EQ(workers[1].slots, 1) << "a worker gossiping 0 slots still counts as one";
  EXPECT_EQ(w.nodeFreeMemoryMiB, NodeMeta::kNoBudget);
}

TEST(RemoteWorkers, SuspectMembersModelsStayKnownButNoneOfItsWorkersIsRoutable) {
  WorkerDirectory directory;
  const auto now = std::chrono::steady_clock::now();
  directory.applyRemote("b", remoteWorkersOf(memberB(MemberState::kAlive), twoReadyWorkers()));
  ASSERT_TRUE(directory.anyRoutable("demo-b", now));

  directory.applyRemote("b", remoteWorkersOf(memberB(MemberState::kSuspect), twoReadyWorkers()));
  EXPECT_TRUE(directory.knows("demo-b")) << "a suspect's model must stay known: 503, not 404";
  EXPECT_FALSE(directory.anyRoutable("demo-b", now));
  EXPECT_FALSE(directory.anyRoutable("embed", now));

  // It refuted: routable again at once.
  directory.applyRemote("b", remoteWorkersOf(memberB(MemberState::kAlive), twoReadyWorkers()));
  EXPECT_TRUE(directory.anyRoutable("demo-b", now));
}

// Issue 12, drain: a draining node's workers keep their state (streams on them stay) but are
// not routable (nothing new goes to them).
TEST(RemoteWorkers, DrainingNodesWorkersAreKnownButNotRoutable) {
  NodeMeta meta = twoReadyWorkers();
  meta.workers[0].draining = true;
  const auto workers = remoteWorkersOf(memberB(MemberState::kAlive), meta);
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_TRUE(workers[0].draining);
  EXPECT_EQ(workers[0].state, WorkerState::Ready);
  Worker w{"demo-b@b", workers[0]};
  EXPECT_FALSE(w.routable(std::chrono::steady_clock::now()));
  EXPECT_FALSE(workers[1].draining);
}

// Where the mesh loads a model on demand reads these (routing/load_placement.h).
// The console's restarts column for another node's workers; -1 (a dash) from a node that
// does not say.
TEST(RemoteWorkers, EachWorkerCarriesItsRestartsAsGossipedOrNotTold) {
  NodeMeta meta = twoReadyWorkers();
  meta.workers[0].restarts = 4;
  const auto workers = remoteWorkersOf(memberB(MemberState::kAlive), meta);
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[0].restarts, 4);
  EXPECT_EQ(workers[1].restarts, -1);
}

// A worker loading on another node: its progress as that node gossips it, for the console.
TEST(RemoteWorkers, ALoadingWorkerCarriesItsGossipedProgress) {
  NodeMeta meta = twoReadyWorkers();
  meta.workers[0].state = WorkerState::Loading;
  meta.workers[0].loadPercent = 42;
  const auto workers = remoteWorkersOf(memberB(MemberState::kAlive), meta);
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_DOUBLE_EQ(workers[0].loadProgress, 0.42);
  EXPECT_EQ(workers[1].loadProgress, -1);
}

TEST(RemoteWorkers, EachWorkerCarriesItsNodesFreeBudgetAndLoadsInProgress) {
  NodeMeta meta = twoReadyWorkers();
  meta.freeMemoryMiB = 2048;
  meta.loadsInProgress = 3;
  for (const auto& w : remoteWorkersOf(memberB(MemberState::kAlive), meta)) {
    EXPECT_EQ(w.nodeFreeMemoryMiB, 2048u) << w.model;
    EXPECT_EQ(w.nodeLoadsInProgress, 3) << w.model;
  }
}
