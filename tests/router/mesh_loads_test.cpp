// Models loaded on demand across the mesh (router/routing/mesh_loads.h) as timelines: other
// nodes are what this router's directory says of them (their gossip), the asked node's answer
// is handed in by the test; time is a FakeClock; requests are Admission::acquire coroutines
// polled on an io_context.
#include "router/routing/mesh_loads.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/fake_random.h"

using namespace qmesh::router;
using namespace std::chrono_literals;

namespace {

struct RecordedLoadAsks final : MeshLoads::Actions {
  std::vector<std::string> asks;  // "b m": node b asked to load model m
  void askLoad(const WorkerPtr& w, const std::string& m) override { asks.push_back(w->info.node + " " + m); }
};

// What the local gate (OnDemandModels) was told, for models this node has workers of.
struct RecordedLocalGate final : LoadGate {
  std::vector<std::string> waitingFor;
  bool loadable(const std::string&) override { return true; }
  void waiting(const std::string& m) override { waitingFor.push_back(m); }
  bool mayGrant(const std::string&, uint64_t) const override { return true; }
  void used(const std::string&) override {}
  void directoryChanged() override {}
};

struct MeshLoadsRig {
  net::io_context io;
  WorkerDirectory dir;
  qmesh::test::FakeRandom random{0.0};
  qmesh::test::FakeClock clock;
  std::shared_ptr<Admission> adm;
  RecordedLoadAsks actions;
  RecordedLocalGate local;
  std::unique_ptr<MeshLoads> loads;

  MeshLoadsRig() {
    adm = std::make_shared<Admission>(dir, random, clock, 16, 30s);
    loads = std::make_unique<MeshLoads>(dir, *adm, clock, actions, &local);
    adm->setLoadGate(loads.get());
  }
  ~MeshLoadsRig() { adm->setLoadGate(nullptr); }

  // Node `node`'s gossip: one worker of `model` (two slots) in `state`.
  void gossip(const std::string& node, const std::string& model, WorkerState state, uint64_t freeMiB = 1000,
              int loadsInProgress = 0) {
    WorkerInfo w;
    w.model = model;
    w.state = state;
    w.slots = 2;
    w.remote = true;
    w.node = node;
    w.peer.bytes.fill(static_cast<uint8_t>(node[0]));
    w.dataAddress = "10.0.0.1:7947";
    w.nodeFreeMemoryMiB = freeMiB;
    w.nodeLoadsInProgress = loadsInProgress;
    dir.applyRemote(node, {w});
    adm->onDirectoryChanged();
    poll();
  }
  void localWorker(const std::string& model, WorkerState state) {
    StatusSnapshot s;
    s.workers.push_back(WorkerInfo{model, "127.0.0.1", 9001, 1, state, 0, false, 0});
    dir.apply(s);
    adm->onDirectoryChanged();
    poll();
  }
  void request(const std::string& model, std::optional<AdmissionResult>& out) {
    net::co_spawn(io, adm->acquire(model, adm->newTicket()),
                  [&out](std::exception_ptr, AdmissionResult r) { out = std::move(r); });
    poll();
  }
  void poll() {
    io.restart();
    io.poll();
  }
};

bool grantedOn(const std::optional<AdmissionResult>& r, const std::string& node) {
  return r && r->lease && r->lease.worker()->info.node == node;
}

}  // namespace

TEST(MeshLoads, AsksTheBestNodeOnceAndServesItsWaitersThereWhenItsGossipSaysReady) {
  MeshLoadsRig rig;
  rig.gossip("a", "m", WorkerState::Unloaded, 1000);
  rig.gossip("b", "m", WorkerState::Unloaded, 4000);
  std::optional<AdmissionResult> r1, r2;
  rig.request("m", r1);
  rig.request("m", r2);
  EXPECT_FALSE(r1 || r2) << "refused instead of waiting for a load elsewhere";
  EXPECT_EQ(rig.actions.asks, std::vector<std::string>{"b m"}) << "one load request, to the most free budget";
  EXPECT_EQ(rig.loads->askedOf("m"), "b");

  rig.gossip("b", "m", WorkerState::Loading, 3000, 1);
  EXPECT_FALSE(r1 || r2) << "granted before the model was ready";
  rig.loads->loadAnswered("m", "b", true, "");
  rig.gossip("b", "m", WorkerState::Ready, 3000, 0);
  EXPECT_TRUE(grantedOn(r1, "b"));
  EXPECT_TRUE(grantedOn(r2, "b"));
  EXPECT_EQ(rig.actions.asks, std::vector<std::string>{"b m"});
  EXPECT_EQ(rig.loads->askedOf("m"), "");
}

TEST(MeshLoads, ReadyAnswerAfterTheGossipServesTheWaitersAtOnce) {
  MeshLoadsRig rig;
  rig.gossip("b", "m", WorkerState::Unloaded);
  std::optional<AdmissionResult> r;
  rig.request("m", r);
  rig.gossip("b", "m", WorkerState::Ready);  // its gossip came first
  EXPECT_TRUE(grantedOn(r, "b"));
  rig.loads->loadAnswered("m", "b", true, "");
  EXPECT_EQ(rig.actions.asks.size(), 1u);
}

TEST(MeshLoads, FailedLoadAnswersEveryWaiterWith503ModelLoadFailedAndTheNodesReason) {
  MeshLoadsRig rig;
  rig.gossip("b", "m", WorkerState::Unloaded);
  std::optional<AdmissionResult> r1, r2;
  rig.request("m", r1);
  rig.request("m", r2);
  rig.loads->loadAnswered("m", "b", false, "loading model 'm' failed: its worker is failed (exited with code 1)");
  rig.poll();
  for (auto* r : {&r1, &r2}) {
    ASSERT_TRUE(*r && (*r)->rejection);
    EXPECT_EQ((*r)->rejection->status, 503);
    EXPECT_EQ((*r)->rejection->code, "model_load_failed");
    EXPECT_NE((*r)->rejection->message.find("on node b failed: loading model 'm' failed: its worker is failed"),
              std::string::npos)
        << (*r)->rejection->message;
  }
  // The next request asks again.
  std::optional<AdmissionResult> r3;
  rig.request("m", r3);
  EXPECT_EQ(rig.actions.asks, (std::vector<std::string>{"b m", "b m"}));
}

TEST(MeshLoads, AnAnswerFromANodeThatWasNotAskedChangesNothing) {
  MeshLoadsRig rig;
  rig.gossip("b", "m", WorkerState::Unloaded);
  std::optional<AdmissionResult> r;
  rig.request("m", r);
  rig.loads->loadAnswered("m", "c", false, "not me");
  rig.poll();
  EXPECT_FALSE(r);
  EXPECT_EQ(rig.loads->askedOf("m"), "b");
}

// Routing prefers nodes where the model is loaded: a model ready somewhere, even with every
// slot taken, is queued for there and not loaded on another node.
TEST(MeshLoads, ModelReadyOnOneNodeIsQueuedForThereNotLoadedOnAnother) {
  MeshLoadsRig rig;
  rig.gossip("b", "m", WorkerState::Ready);
  rig.gossip("c", "m", WorkerState::Unloaded, 9000);
  std::optional<AdmissionResult> r1, r2, r3;
  rig.request("m", r1);
  rig.request("m", r2);
  rig.request("m", r3);  // b's two slots are taken: this one waits for one of them
  EXPECT_TRUE(grantedOn(r1, "b"));
  EXPECT_TRUE(grantedOn(r2, "b"));
  EXPECT_FALSE(r3);
  EXPECT_TRUE(rig.actions.asks.empty()) << "loaded a second copy while the model was ready on b";
  r1->lease.release();
  rig.poll();
  EXPECT_TRUE(grantedOn(r3, "b"));
}

// A model being loaded on one node is not loaded on another: that node is asked (its answer
// comes when its load is done).
TEST(MeshLoads, ModelLoadingOnOneNodeIsAskedOfThatNodeNotStartedOnAnother) {
  MeshLoadsRig rig;
  rig.gossip("b", "m", WorkerState::Loading, 10, 2);
  rig.gossip("c", "m", WorkerState::Unloaded, 9000, 0);
  std::optional<AdmissionResult> r;
  rig.request("m", r);
  EXPECT_EQ(rig.actions.asks, std::vector<std::string>{"b m"});
}

TEST(MeshLoads, ModelNoNodeCanLoadIsRefusedAtOnceAsBefore) {
  MeshLoadsRig rig;
  rig.gossip("b", "m", WorkerState::Failed);
  std::optional<AdmissionResult> r;
  rig.request("m", r);
  ASSERT_TRUE(r && r->rejection);
  EXPECT_EQ(r->rejection->code, "no_ready_worker");
  EXPECT_TRUE(rig.actions.asks.empty());
}

// A model this node has workers of is loaded here (OnDemandModels), never asked of others.
TEST(MeshLoads, ModelWithAWorkerOnThisNodeIsLeftToThisNodesOwnLoading) {
  MeshLoadsRig rig;
  rig.localWorker("m", WorkerState::Unloaded);
  rig.gossip("b", "m", WorkerState::Unloaded, 9000);
  std::optional<AdmissionResult> r;
  rig.request("m", r);
  EXPECT_FALSE(r);
  EXPECT_TRUE(rig.actions.asks.empty());
  EXPECT_EQ(rig.local.waitingFor.at(0), "m");
}
