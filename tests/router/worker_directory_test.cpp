#include "router/routing/worker_directory.h"

#include <gtest/gtest.h>

using namespace qmesh::router;

namespace {
const char* kStatus = R"({"node":"n1","version":"0.1.0","generation":17,"pid":123,
  "models":[{"name":"demo","state":"ready","pid":4242,"port":38211,"slots":4,"ctx_size":2048,
             "embeddings":false,"restarts":0,"last_exit":"","uptime_s":12.5},
            {"name":"emb","state":"loading","pid":4243,"port":38212,"slots":2,"embeddings":true}]})";
}

TEST(SupervisorStatus, ParsesTheControlApiContract) {
  auto s = parseSupervisorStatus(kStatus);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->node, "n1");
  EXPECT_EQ(s->generation, 17u);
  ASSERT_EQ(s->workers.size(), 2u);
  EXPECT_EQ(s->workers[0].model, "demo");
  EXPECT_EQ(s->workers[0].port, 38211);
  EXPECT_EQ(s->workers[0].slots, 4);
  EXPECT_EQ(s->workers[0].state, WorkerState::Ready);
  EXPECT_EQ(s->workers[1].state, WorkerState::Loading);
  EXPECT_TRUE(s->workers[1].embeddings);
}

TEST(SupervisorStatus, ToleratesNullsAndUnknownFields) {
  auto s = parseSupervisorStatus(
      R"({"node":"n","generation":3,"router":{"name":"router"},"models":[{"name":"demo","state":"starting",)"
      R"("pid":null,"port":null,"slots":"four","embeddings":null,"future":1}]})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->workers[0].pid, 0);
  EXPECT_EQ(s->workers[0].port, 0);
  EXPECT_EQ(s->workers[0].slots, 1);
  EXPECT_EQ(s->workers[0].state, WorkerState::Starting);
}

TEST(SupervisorStatus, NumberOutsideInt64RangeTakesTheDefault) {
  auto s = parseSupervisorStatus(
      R"({"node":"n","generation":1e300,"models":[{"name":"demo","port":1e300,"pid":1e300,"restarts":-1e300,"slots":2.0}]})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->generation, 0u);
  ASSERT_EQ(s->workers.size(), 1u);
  EXPECT_EQ(s->workers[0].port, 0);
  EXPECT_EQ(s->workers[0].pid, 0);
  EXPECT_EQ(s->workers[0].restarts, 0);
  EXPECT_EQ(s->workers[0].slots, 2);  // an in-range float still counts
}

TEST(SupervisorStatus, RejectsBodiesThatAreNotTheContract) {
  EXPECT_FALSE(parseSupervisorStatus("not json"));
  EXPECT_FALSE(parseSupervisorStatus(R"({"node":"n"})"));
  EXPECT_FALSE(parseSupervisorStatus(R"({"models":[{"state":"ready"}]})"));
}

TEST(WorkerDirectory, OnlyReadyWorkersAreRoutableButAllModelsAreKnown) {
  WorkerDirectory d;
  d.apply(*parseSupervisorStatus(kStatus));
  const auto now = SteadyClock::now();
  EXPECT_EQ(d.models(), (std::vector<std::string>{"demo", "emb"}));
  EXPECT_TRUE(d.anyRoutable("demo", now));
  EXPECT_FALSE(d.anyRoutable("emb", now));
  EXPECT_TRUE(d.knows("emb"));
  EXPECT_FALSE(d.knows("other"));
}

TEST(WorkerDirectory, KeepsInFlightCountsAcrossStatusUpdates) {
  WorkerDirectory d;
  d.apply(*parseSupervisorStatus(kStatus));
  WorkerPtr w = d.workersOf("demo").at(0);
  w->outstanding = 3;
  auto s = *parseSupervisorStatus(kStatus);
  s.workers[0].state = WorkerState::Restarting;
  d.apply(s);
  EXPECT_EQ(d.workersOf("demo").at(0).get(), w.get());
  EXPECT_EQ(w->outstanding, 3);
  EXPECT_FALSE(d.anyRoutable("demo", SteadyClock::now()));
}

TEST(WorkerDirectory, RefusedWorkerIsSkippedUntilHoldEndsOrItRestarts) {
  WorkerDirectory d;
  auto s = *parseSupervisorStatus(kStatus);
  d.apply(s);
  const auto now = SteadyClock::now();
  d.markUnreachable(*d.workersOf("demo")[0], now, std::chrono::seconds(60));
  EXPECT_FALSE(d.anyRoutable("demo", now));
  d.apply(s);  // same pid: still the same dead process
  EXPECT_FALSE(d.anyRoutable("demo", now));
  EXPECT_TRUE(d.anyRoutable("demo", now + std::chrono::seconds(61)));
  s.workers[0].pid = 5000;  // the supervisor restarted it
  d.apply(s);
  EXPECT_TRUE(d.anyRoutable("demo", now));
}

namespace {
WorkerInfo remoteWorker(const std::string& model, const std::string& node, WorkerState state = WorkerState::Ready) {
  WorkerInfo w;
  w.model = model;
  w.node = node;
  w.state = state;
  w.slots = 4;
  w.dataAddress = "10.0.0.2:7947";
  return w;
}
}  // namespace

TEST(WorkerDirectory, RemoteWorkersJoinTheModelListAndSurviveLocalUpdates) {
  WorkerDirectory d;
  auto local = parseSupervisorStatus(kStatus);
  ASSERT_TRUE(local);
  d.apply(*local);
  d.applyRemote("peer-b", {remoteWorker("demo-b", "b"), remoteWorker("demo", "b")});
  EXPECT_EQ(d.models(), (std::vector<std::string>{"demo", "demo-b", "emb"}));
  ASSERT_EQ(d.workersOf("demo").size(), 2u);
  EXPECT_FALSE(d.workersOf("demo")[0]->info.remote);  // local first
  EXPECT_TRUE(d.workersOf("demo")[1]->info.remote);
  EXPECT_EQ(d.workersOf("demo")[1]->id, "demo@b");
  EXPECT_TRUE(d.workersOf("demo-b")[0]->routable(SteadyClock::now()));
  d.apply(*local);  // a supervisor update replaces only the local part
  EXPECT_EQ(d.workersOf("demo-b").size(), 1u);
}

TEST(WorkerDirectory, RemovingARemoteNodeDropsItsWorkersAtOnce) {
  WorkerDirectory d;
  d.applyRemote("peer-b", {remoteWorker("demo-b", "b")});
  d.applyRemote("peer-c", {remoteWorker("demo-c", "c")});
  d.removeRemote("peer-b");
  EXPECT_FALSE(d.knows("demo-b"));
  EXPECT_TRUE(d.knows("demo-c"));
}

TEST(WorkerDirectory, RemoteUpdateKeepsOutstandingCountsOfKnownWorkers) {
  WorkerDirectory d;
  d.applyRemote("peer-b", {remoteWorker("demo-b", "b")});
  WorkerPtr w = d.workersOf("demo-b")[0];
  w->outstanding = 2;
  auto update = remoteWorker("demo-b", "b");
  update.inFlight = 3;
  d.applyRemote("peer-b", {update});
  EXPECT_EQ(d.workersOf("demo-b")[0].get(), w.get());
  EXPECT_EQ(w->outstanding, 2);
  EXPECT_EQ(w->info.inFlight, 3);
}

TEST(WorkerDirectory, RefusedRemoteNodeIsSkippedForTheHold) {
  WorkerDirectory d;
  d.applyRemote("peer-b", {remoteWorker("demo-b", "b"), remoteWorker("x", "b")});
  const TimePoint now = SteadyClock::now();
  d.markPeerUnreachable("peer-b", now, std::chrono::milliseconds(2000));
  EXPECT_FALSE(d.anyRoutable("demo-b", now));
  EXPECT_FALSE(d.anyRoutable("x", now));
  EXPECT_TRUE(d.anyRoutable("demo-b", now + std::chrono::milliseconds(2001)));
}

TEST(SupervisorStatus, UnloadedModelIsKnownButNotRoutable) {
  auto s = parseSupervisorStatus(
      R"({"node":"n","models":[{"name":"big","state":"unloaded","pid":null,"port":0,"slots":1}]})");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->workers.size(), 1u);
  EXPECT_EQ(s->workers[0].state, WorkerState::Unloaded);
  EXPECT_EQ(toString(WorkerState::Unloaded), "unloaded");
  WorkerDirectory d;
  d.apply(*s);
  EXPECT_TRUE(d.knows("big"));
  EXPECT_FALSE(d.anyRoutable("big", SteadyClock::now()));
}

// Issue 10: what the router needs to load on demand, unload when idle and make room.
TEST(SupervisorStatus, ReadsTheOnDemandFieldsAndTheMemoryBudget) {
  auto s = parseSupervisorStatus(
      R"({"node":"n","generation":3,"memory_budget":31457280,"models":[)"
      R"({"name":"a","state":"loading","load":"on_demand","idle_unload_ms":2000,"memory":18874368,)"
      R"("load_progress":0.25,"last_exit":"unloaded; exited with code 0"},)"
      R"({"name":"b","state":"ready","load":"always","load_progress":7}]})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->memoryBudget, 31457280u);
  const WorkerInfo& a = s->workers[0];
  EXPECT_TRUE(a.onDemand);
  EXPECT_EQ(a.idleUnloadMs, 2000);
  EXPECT_EQ(a.memory, 18874368u);
  EXPECT_DOUBLE_EQ(a.loadProgress, 0.25);
  EXPECT_EQ(a.lastExit, "unloaded; exited with code 0");
  EXPECT_FALSE(s->workers[1].onDemand);
  EXPECT_EQ(s->workers[1].loadProgress, -1) << "a progress outside 0..1 is no progress";
  WorkerDirectory d;
  d.apply(*s);
  EXPECT_EQ(d.memoryBudget(), 31457280u);
}

// Issue 12, drain: a draining node's workers take nothing new (no request, no continuation),
// yet keep their state, so the streams they carry are not moved before the drain's deadline.
TEST(WorkerDirectory, DrainingWorkersAreNotRoutableButKeepTheirState) {
  WorkerDirectory d;
  d.apply(*parseSupervisorStatus(kStatus));
  const auto now = SteadyClock::now();
  ASSERT_TRUE(d.anyRoutable("demo", now));
  d.setLocalDraining();
  EXPECT_FALSE(d.anyRoutable("demo", now));
  EXPECT_EQ(d.workersOf("demo")[0]->info.state, WorkerState::Ready);
  d.apply(*parseSupervisorStatus(kStatus));  // the next supervisor status does not undo it
  EXPECT_FALSE(d.anyRoutable("demo", now));
  EXPECT_TRUE(d.workersOf("demo")[0]->info.draining);
  WorkerInfo remote = remoteWorker("demo-b", "b");
  remote.draining = true;  // as another draining node gossips it
  d.applyRemote("peer-b", {remote});
  EXPECT_FALSE(d.anyRoutable("demo-b", now));
  EXPECT_TRUE(d.knows("demo-b"));
}
