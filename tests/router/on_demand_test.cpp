// Models loaded on demand (router/routing/on_demand.h) as timelines: the supervisor is a
// list of the calls the router made and the /status snapshots the test publishes; time is a
// FakeClock; requests are Admission::acquire coroutines polled on an io_context.
#include "router/routing/on_demand.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/fake_random.h"

using namespace qmesh::router;
using namespace std::chrono_literals;

namespace {

struct RecordedModelActions final : OnDemandModels::Actions {
  std::vector<std::string> calls;  // "load a", "unload b", in order
  void load(const std::string& m) override { calls.push_back("load " + m); }
  void unload(const std::string& m) override { calls.push_back("unload " + m); }
};

// One worker (one slot) per model; the test moves each through the supervisor's states.
struct OnDemandRig {
  struct ModelRow {
    WorkerState state = WorkerState::Unloaded;
    int64_t pid = 0;
    uint64_t memory = 1;
    int64_t idleMs = 0;
    bool onDemand = true;
    std::string lastExit;
    uint16_t port = 0;
  };

  net::io_context io;
  WorkerDirectory dir;
  qmesh::test::FakeRandom random{0.0};
  qmesh::test::FakeClock clock;
  std::shared_ptr<Admission> adm;
  RecordedModelActions actions;
  std::unique_ptr<OnDemandModels> od;
  std::map<std::string, ModelRow> rows;
  uint64_t budget = 0;
  uint64_t generation = 1;
  int64_t nextPid = 100;

  explicit OnDemandRig(std::chrono::milliseconds timeout = 30s) {
    adm = std::make_shared<Admission>(dir, random, clock, 16, timeout);
    od = std::make_unique<OnDemandModels>(dir, *adm, clock, actions);
    adm->setLoadGate(od.get());
  }
  ~OnDemandRig() { adm->setLoadGate(nullptr); }

  void add(const std::string& name, WorkerState state) { add(name, state, ModelRow()); }
  void add(const std::string& name, WorkerState state, ModelRow row) {
    row.state = state;
    row.port = static_cast<uint16_t>(9000 + rows.size());
    if (state != WorkerState::Unloaded) row.pid = ++nextPid;
    rows[name] = row;
  }
  void publish() {
    StatusSnapshot s;
    s.generation = ++generation;
    s.memoryBudget = budget;
    for (const auto& [name, r] : rows) {
      WorkerInfo w{name, "127.0.0.1", r.port, 1, r.state, r.pid, false, 0};
      w.memory = r.memory;
      w.idleUnloadMs = r.idleMs;
      w.onDemand = r.onDemand;
      w.lastExit = r.lastExit;
      s.workers.push_back(w);
    }
    dir.apply(s);
    adm->onDirectoryChanged();
    poll();
  }
  // The supervisor accepts the load (the generation it names is the next snapshot's), spawns
  // the process and reports it ready.
  void supervisorLoads(const std::string& name) {
    od->loadAnswered(name, true, generation + 1, "");
    rows[name].state = WorkerState::Starting;
    rows[name].pid = ++nextPid;
    publish();
    rows[name].state = WorkerState::Ready;
    publish();
  }
  // SIGTERM acknowledged at once (state unloaded), the process reaped later.
  void supervisorUnloads(const std::string& name) {
    od->unloadAnswered(name, true, "");
    rows[name].state = WorkerState::Unloaded;
    publish();
    rows[name].pid = 0;
    publish();
  }
  void request(const std::string& model, std::optional<AdmissionResult>& out) {
    net::co_spawn(io, adm->acquire(model, adm->newTicket()),
                  [&out](std::exception_ptr, AdmissionResult r) { out = std::move(r); });
    poll();
  }
  void advance(std::chrono::milliseconds d) {
    clock.advance(d);
    adm->expireDue();
    od->tick();
    poll();
  }
  void poll() {
    io.restart();
    io.poll();
  }
  int64_t outstanding(const std::string& model) { return dir.workersOf(model).at(0)->outstanding; }
};

bool granted(const std::optional<AdmissionResult>& r) { return r && r->lease; }

}  // namespace

TEST(OnDemandModels, LoadsAnUnloadedModelOnceAndServesItsWaitersInOrderWhenReady) {
  OnDemandRig rig;
  rig.add("a", WorkerState::Unloaded);
  rig.publish();
  std::optional<AdmissionResult> r1, r2, r3;
  rig.request("a", r1);
  rig.request("a", r2);
  rig.request("a", r3);
  EXPECT_FALSE(r1 || r2 || r3) << "refused instead of waiting for the load";
  EXPECT_EQ(rig.actions.calls, std::vector<std::string>{"load a"}) << "one load for many requests";
  EXPECT_EQ(rig.od->phaseOf("a"), "load_asked");

  rig.supervisorLoads("a");
  ASSERT_TRUE(granted(r1));
  EXPECT_FALSE(r2 || r3);  // one slot: the others wait their turn
  r1->lease.release();
  rig.poll();
  ASSERT_TRUE(granted(r2));
  EXPECT_FALSE(r3);
  r2->lease.release();
  rig.poll();
  EXPECT_TRUE(granted(r3));
  EXPECT_EQ(rig.actions.calls, std::vector<std::string>{"load a"});
}

TEST(OnDemandModels, LoadThatEndsBeforeReadyAnswersEveryWaiterWith503AndTheReason) {
  OnDemandRig rig;
  rig.add("a", WorkerState::Unloaded);
  rig.publish();
  std::optional<AdmissionResult> r1, r2;
  rig.request("a", r1);
  rig.request("a", r2);
  rig.od->loadAnswered("a", true, rig.generation + 1, "");
  rig.rows["a"].state = WorkerState::Starting;
  rig.rows["a"].pid = 7;
  rig.publish();
  EXPECT_FALSE(r1 || r2) << "failed while still starting";
  rig.rows["a"].state = WorkerState::Restarting;
  rig.rows["a"].pid = 0;
  rig.rows["a"].lastExit = "exited with code 1";
  rig.publish();
  for (auto* r : {&r1, &r2}) {
    ASSERT_TRUE(*r && (*r)->rejection);
    EXPECT_EQ((*r)->rejection->status, 503);
    EXPECT_EQ((*r)->rejection->code, "model_load_failed");
    EXPECT_NE((*r)->rejection->message.find("loading model 'a' failed: its worker is restarting (exited with code 1)"),
              std::string::npos)
        << (*r)->rejection->message;
  }
}

TEST(OnDemandModels, StaleSnapshotBeforeTheLoadsGenerationIsNoFailure) {
  OnDemandRig rig;
  rig.add("a", WorkerState::Unloaded);
  rig.publish();
  std::optional<AdmissionResult> r;
  rig.request("a", r);
  rig.od->loadAnswered("a", true, rig.generation + 2, "");
  rig.publish();  // still "unloaded": a snapshot from before the load
  EXPECT_FALSE(r) << "a snapshot older than the load's generation was taken for a failed load";
  rig.rows["a"].state = WorkerState::Ready;
  rig.rows["a"].pid = 9;
  rig.publish();
  EXPECT_TRUE(granted(r));
}

TEST(OnDemandModels, RefusedLoadAnswersWaitersWithTheSupervisorsMessage) {
  OnDemandRig rig;
  rig.add("a", WorkerState::Unloaded);
  rig.publish();
  std::optional<AdmissionResult> r;
  rig.request("a", r);
  rig.od->loadAnswered("a", false, 0, "the supervisor at 127.0.0.1:7070 does not answer");
  rig.poll();
  ASSERT_TRUE(r && r->rejection);
  EXPECT_EQ(r->rejection->code, "model_load_failed");
  EXPECT_NE(r->rejection->message.find("does not answer"), std::string::npos) << r->rejection->message;
}

TEST(OnDemandModels, ModelLoadedFromTheStartThatIsRestartingIsRefusedAtOnceAsBefore) {
  OnDemandRig rig;
  OnDemandRig::ModelRow always;
  always.onDemand = false;
  rig.add("a", WorkerState::Restarting, always);
  rig.publish();
  std::optional<AdmissionResult> r;
  rig.request("a", r);
  ASSERT_TRUE(r && r->rejection);
  EXPECT_EQ(r->rejection->code, "no_ready_worker");
  EXPECT_TRUE(rig.actions.calls.empty());
}

TEST(OnDemandModels, UnloadsAModelIdleForItsIdleUnloadAndTheNextRequestLoadsItAgain) {
  OnDemandRig rig;
  OnDemandRig::ModelRow row;
  row.idleMs = 10000;
  rig.add("a", WorkerState::Ready, row);
  rig.publish();
  rig.advance(10s - 1ms);
  EXPECT_TRUE(rig.actions.calls.empty()) << "unloaded before idle_unload";
  rig.advance(1ms);
  EXPECT_EQ(rig.actions.calls, std::vector<std::string>{"unload a"});
  EXPECT_EQ(rig.od->phaseOf("a"), "evicting");

  std::optional<AdmissionResult> r;  // arrives while it is being unloaded
  rig.request("a", r);
  EXPECT_FALSE(r) << "granted a slot of a model being unloaded";
  rig.supervisorUnloads("a");
  EXPECT_EQ(rig.actions.calls, (std::vector<std::string>{"unload a", "load a"}));
  rig.supervisorLoads("a");
  EXPECT_TRUE(granted(r));
}

TEST(OnDemandModels, IdleClockCountsFromTheLastRequestNotWhileOneIsInFlight) {
  OnDemandRig rig;
  OnDemandRig::ModelRow row;
  row.idleMs = 10000;
  rig.add("a", WorkerState::Ready, row);
  rig.publish();
  std::optional<AdmissionResult> r;
  rig.request("a", r);
  ASSERT_TRUE(granted(r));
  rig.advance(1h);
  EXPECT_TRUE(rig.actions.calls.empty()) << "unloaded with a request in flight";
  r->lease.release();
  rig.advance(10s - 1ms);
  EXPECT_TRUE(rig.actions.calls.empty()) << "the idle clock did not restart when the request ended";
  rig.advance(1ms);
  EXPECT_EQ(rig.actions.calls, std::vector<std::string>{"unload a"});
}

TEST(OnDemandModels, MakesRoomByUnloadingTheLeastRecentlyUsedIdleModelFirst) {
  OnDemandRig rig;
  rig.budget = 2;
  rig.add("a", WorkerState::Ready);
  rig.add("b", WorkerState::Ready);
  rig.add("c", WorkerState::Unloaded);
  rig.publish();
  std::optional<AdmissionResult> ra, rb, rc;
  rig.request("b", rb);
  rb->lease.release();
  rig.advance(1s);
  rig.request("a", ra);  // a is used last: b is the least recently used
  ra->lease.release();
  rig.request("c", rc);
  EXPECT_EQ(rig.actions.calls, std::vector<std::string>{"unload b"});
  rig.od->unloadAnswered("b", true, "");
  rig.rows["b"].state = WorkerState::Unloaded;
  rig.publish();  // still exiting: its memory is not back yet
  EXPECT_EQ(rig.actions.calls, std::vector<std::string>{"unload b"}) << "loaded before the memory was back";
  rig.rows["b"].pid = 0;
  rig.publish();
  EXPECT_EQ(rig.actions.calls, (std::vector<std::string>{"unload b", "load c"}));
  rig.supervisorLoads("c");
  EXPECT_TRUE(granted(rc));
}

TEST(OnDemandModels, NeverUnloadsAModelWithARequestInFlightOrQueuedToMakeRoom) {
  OnDemandRig rig;
  rig.budget = 2;
  rig.add("a", WorkerState::Ready);
  rig.add("b", WorkerState::Ready);
  rig.add("c", WorkerState::Unloaded);
  rig.publish();
  std::optional<AdmissionResult> a1, a2, b1;
  rig.request("a", a1);  // in flight, and the least recently used
  rig.request("a", a2);  // queued behind it
  rig.advance(1s);
  rig.request("b", b1);
  b1->lease.release();
  std::optional<AdmissionResult> c1;
  rig.request("c", c1);
  EXPECT_EQ(rig.actions.calls, std::vector<std::string>{"unload b"});
}

// Room for one model, requests for two: each model serves what was queued for it when the
// other asked, then gives way; nothing fails and nothing is unloaded under a request.
TEST(OnDemandModels, TwoModelsSharingRoomForOneAlternateAndNoneIsUnloadedUnderARequest) {
  OnDemandRig rig;
  rig.budget = 1;
  rig.add("a", WorkerState::Ready);
  rig.add("b", WorkerState::Unloaded);
  rig.publish();
  std::optional<AdmissionResult> a1, a2, b1, a3;
  rig.request("a", a1);
  rig.request("a", a2);  // queued for a before b asks: served before a gives way
  rig.request("b", b1);
  rig.request("a", a3);  // after b asked: waits for a's next turn
  EXPECT_EQ(rig.od->phaseOf("a"), "closed");
  EXPECT_TRUE(rig.actions.calls.empty()) << "unloaded with requests in flight";
  a1->lease.release();
  rig.poll();
  ASSERT_TRUE(granted(a2));
  EXPECT_FALSE(a3) << "a newcomer overtook the model waiting for room";
  EXPECT_TRUE(rig.actions.calls.empty()) << "unloaded with a request in flight";
  a2->lease.release();
  rig.poll();
  EXPECT_EQ(rig.actions.calls, std::vector<std::string>{"unload a"});
  rig.supervisorUnloads("a");
  EXPECT_EQ(rig.actions.calls, (std::vector<std::string>{"unload a", "load b"}));
  rig.supervisorLoads("b");
  ASSERT_TRUE(granted(b1));
  EXPECT_EQ(rig.od->phaseOf("b"), "closed") << "b must give way to a's waiting request";
  EXPECT_FALSE(a3);
  b1->lease.release();
  rig.poll();
  rig.supervisorUnloads("b");
  EXPECT_EQ(rig.actions.calls, (std::vector<std::string>{"unload a", "load b", "unload b", "load a"}));
  rig.supervisorLoads("a");
  EXPECT_TRUE(granted(a3));
  EXPECT_EQ(rig.adm->rejected("queue_timeout") + rig.adm->rejected("model_load_failed") +
                rig.adm->rejected("no_ready_worker"),
            0u);
}

TEST(OnDemandModels, WaitersThatLeftDoNotCauseALoad) {
  OnDemandRig rig(5s);
  rig.budget = 1;
  rig.add("a", WorkerState::Ready);
  rig.add("b", WorkerState::Unloaded);
  rig.publish();
  std::optional<AdmissionResult> a1, b1, a2;
  rig.request("a", a1);
  rig.request("b", b1);
  rig.advance(5s);  // b's request gives up while a is busy
  ASSERT_TRUE(b1 && b1->rejection);
  a1->lease.release();
  rig.poll();
  EXPECT_TRUE(rig.actions.calls.empty()) << "unloaded a for a request that was gone";
  rig.request("a", a2);
  EXPECT_TRUE(granted(a2)) << "a stayed closed after nobody waited for b any more";
}
