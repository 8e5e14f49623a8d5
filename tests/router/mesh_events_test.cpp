// What the router tells /api/events of its own workers (router/console/mesh_events.h): a
// worker_state event per change the console shows, carrying the load progress while loading.
#include "router/console/mesh_events.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "router/console/console_state.h"

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

}  // namespace
}  // namespace qmesh::router
