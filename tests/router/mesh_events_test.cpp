// What the router tells /api/events of its mesh and its workers (router/console/mesh_events.h):
// members joining and changing state, worker_state events per change the console shows (with
// the load progress while a local worker loads), key reloads.
#include "router/console/mesh_events.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <vector>

#include "router/console/console_state.h"
#include "router/mesh/node_meta.h"

namespace qmesh::router {
namespace {

using nlohmann::json;

WorkerInfo meshEventsWorker(WorkerState state, double loadProgress) {
  WorkerInfo w;
  w.model = "demo";
  w.state = state;
  w.pid = 4242;
  w.loadProgress = loadProgress;
  return w;
}

// The one event `publish` makes, as a reader of /api/events parses it.
json meshEventsOnlyEvent(ConsoleState& c, const std::function<void()>& publish) {
  auto sub = c.events.subscribe(std::nullopt, nullptr);
  publish();
  const auto events = sub->take();
  c.events.unsubscribe(sub);
  if (events.size() != 1) {
    ADD_FAILURE() << events.size() << " events";
    return json::object();
  }
  return json::parse(events.front()->data);
}

TEST(MeshEvents, LocalWorkerStateCarriesTheLoadProgressWhileLoading) {
  ConsoleState c;
  const json e = meshEventsOnlyEvent(
      c, [&] { publishLocalWorker(c, "a", meshEventsWorker(WorkerState::Loading, 0.42), 7); });
  EXPECT_EQ(e["type"], "worker_state");
  EXPECT_EQ(e["state"], "loading");
  EXPECT_EQ(e["pid"], 4242);
  EXPECT_EQ(e["generation"], 7);
  ASSERT_TRUE(e.contains("load_progress")) << e.dump();
  EXPECT_DOUBLE_EQ(e["load_progress"].get<double>(), 0.42);
}

TEST(MeshEvents, LocalWorkerStateHasNoLoadProgressWhenNoneIsKnownOrOnceReady) {
  ConsoleState c;
  const json unknown = meshEventsOnlyEvent(
      c, [&] { publishLocalWorker(c, "a", meshEventsWorker(WorkerState::Loading, -1), 1); });
  EXPECT_FALSE(unknown.contains("load_progress")) << unknown.dump();
  const json ready = meshEventsOnlyEvent(
      c, [&] { publishLocalWorker(c, "a", meshEventsWorker(WorkerState::Ready, 1.0), 2); });
  EXPECT_FALSE(ready.contains("load_progress")) << "a ready worker has no progress bar: " << ready.dump();
}

TEST(MeshEvents, LoadProgressThatMovedIsAChangeEvenInTheSameState) {
  const WorkerInfo at41 = meshEventsWorker(WorkerState::Loading, 0.41);
  const WorkerInfo at42 = meshEventsWorker(WorkerState::Loading, 0.42);
  EXPECT_TRUE(localWorkerChanged(&at41, at42));
  EXPECT_FALSE(localWorkerChanged(&at42, at42)) << "a snapshot that changed nothing of it: no event";
  EXPECT_TRUE(localWorkerChanged(nullptr, at42)) << "a new worker";
  EXPECT_TRUE(localWorkerChanged(&at42, meshEventsWorker(WorkerState::Ready, 0.42)));
}

// Every event `publish` makes, parsed.
std::vector<json> meshEventsAll(ConsoleState& c, const std::function<void()>& publish) {
  auto sub = c.events.subscribe(std::nullopt, nullptr);
  publish();
  std::vector<json> out;
  for (const auto& e : sub->take()) out.push_back(json::parse(e->data));
  c.events.unsubscribe(sub);
  return out;
}

WorkerMeta meshEventsRemote(const std::string& model, WorkerState state) {
  WorkerMeta w;
  w.model = model;
  w.state = state;
  return w;
}

// Another node's gossip repeats its workers every time anything of it changes (its load):
// the console hears of a worker only when its state changed, and of one that is gone.
TEST(MeshEvents, RemoteWorkerStateOnlyWhenItChangesAndGoneWhenItLeavesTheGossip) {
  ConsoleState c;
  auto e = meshEventsAll(c, [&] { publishRemoteWorkers(c, "b", {meshEventsRemote("demo-b", WorkerState::Loading)}); });
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0]["type"], "worker_state");
  EXPECT_EQ(e[0]["node"], "b");
  EXPECT_EQ(e[0]["model"], "demo-b");
  EXPECT_EQ(e[0]["state"], "loading");
  EXPECT_EQ(e[0]["previous"], "");
  EXPECT_EQ(e[0]["remote"], true);
  e = meshEventsAll(c, [&] { publishRemoteWorkers(c, "b", {meshEventsRemote("demo-b", WorkerState::Loading)}); });
  EXPECT_TRUE(e.empty()) << "the same gossip again: nothing new";
  e = meshEventsAll(c, [&] { publishRemoteWorkers(c, "b", {meshEventsRemote("demo-b", WorkerState::Ready)}); });
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0]["state"], "ready");
  EXPECT_EQ(e[0]["previous"], "loading");
  e = meshEventsAll(c, [&] { publishRemoteWorkers(c, "bb", {meshEventsRemote("x", WorkerState::Ready)}); });
  ASSERT_EQ(e.size(), 1u) << "node bb is not b";
  e = meshEventsAll(c, [&] { publishRemoteWorkers(c, "b", {}); });
  ASSERT_EQ(e.size(), 1u) << "only b's worker is gone, not bb's";
  EXPECT_EQ(e[0]["model"], "demo-b");
  EXPECT_EQ(e[0]["state"], "gone");
  EXPECT_EQ(e[0]["previous"], "ready");
}

// Another node's worker that loads: each gossiped step of its progress is a worker_state event
// with load_progress, as for a local one; the same gossip again is none.
TEST(MeshEvents, RemoteWorkerLoadProgressThatMovedIsAnEventWithTheProgress) {
  ConsoleState c;
  WorkerMeta w = meshEventsRemote("demo-b", WorkerState::Loading);
  w.loadPercent = 10;
  auto e = meshEventsAll(c, [&] { publishRemoteWorkers(c, "b", {w}); });
  ASSERT_EQ(e.size(), 1u);
  EXPECT_DOUBLE_EQ(e[0]["load_progress"].get<double>(), 0.10);
  w.loadPercent = 55;
  e = meshEventsAll(c, [&] { publishRemoteWorkers(c, "b", {w}); });
  ASSERT_EQ(e.size(), 1u) << "the progress moved in the same state";
  EXPECT_EQ(e[0]["state"], "loading");
  EXPECT_EQ(e[0]["previous"], "loading");
  EXPECT_DOUBLE_EQ(e[0]["load_progress"].get<double>(), 0.55);
  e = meshEventsAll(c, [&] { publishRemoteWorkers(c, "b", {w}); });
  EXPECT_TRUE(e.empty());
  w.state = WorkerState::Ready;
  w.loadPercent = -1;
  e = meshEventsAll(c, [&] { publishRemoteWorkers(c, "b", {w}); });
  ASSERT_EQ(e.size(), 1u);
  EXPECT_FALSE(e[0].contains("load_progress")) << e[0].dump();
}

TEST(MeshEvents, MemberJoinedForANewNodeAndMemberStateWithThePreviousOneAfter) {
  ConsoleState c;
  auto e = meshEventsAll(c, [&] { publishMemberChange(c, "b", "ab12", "10.0.0.2:7946", "alive", "alive", true); });
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0]["type"], "member_joined");
  EXPECT_EQ(e[0]["node"], "b");
  EXPECT_EQ(e[0]["node_id"], "ab12");
  EXPECT_EQ(e[0]["address"], "10.0.0.2:7946");
  EXPECT_EQ(e[0]["previous"], "");
  e = meshEventsAll(c, [&] { publishMemberChange(c, "b", "ab12", "10.0.0.2:7946", "dead", "suspect", false); });
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0]["type"], "member_state");
  EXPECT_EQ(e[0]["state"], "dead");
  EXPECT_EQ(e[0]["previous"], "suspect");
}

TEST(MeshEvents, KeysReloadedSaysWhetherItWorkedAndWhy) {
  ConsoleState c;
  const json e = meshEventsOnlyEvent(c, [&] { publishKeysReloaded(c, false, "mesh.keys_file: no such file"); });
  EXPECT_EQ(e["type"], "keys_reloaded");
  EXPECT_EQ(e["ok"], false);
  EXPECT_EQ(e["detail"], "mesh.keys_file: no such file");
}

}  // namespace
}  // namespace qmesh::router
