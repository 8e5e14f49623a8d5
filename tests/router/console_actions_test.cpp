// The console's actions that go through the supervisor (POST /api/workers/NAME/restart,
// POST /api/models/NAME/load|unload) and the events about the supervisor itself
// (supervisor_lost, supervisor_back), against an in-process router whose control API is a
// FakeSupervisor.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/router/event_reader.h"
#include "tests/router/fake_supervisor.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

using namespace qmesh;
using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

const std::string kOneUnloadedModel = R"([{"name":"demo","model":"demo","state":"unloaded","slots":1}])";

// A router supervised by `sup`, whose control token is "control-token-1".
router::RouterConfig supervisedByFake(const FakeSupervisor& sup, const TempDir& dir) {
  router::RouterConfig c = RouterHarness::config({});
  c.control = HostPort{"127.0.0.1", sup.port()};
  c.control_token_file = dir.write("control.token", "control-token-1\n");
  return c;
}

json snapshotOfConsole(const RouterHarness& r) {
  return json::parse(httpGet(r.url("/api/console")).body, nullptr, false);
}

bool routerKnowsModelDemo(const RouterHarness& r) {
  const json s = snapshotOfConsole(r);
  if (!s.is_object()) return false;
  for (const auto& m : s["status"]["models"])
    if (m.value("name", "") == "demo") return true;
  return false;
}

json errorIn(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"] : json::object();
}

}  // namespace

TEST(ConsoleActions, LoadAndUnloadPostToTheSupervisorWithItsControlTokenAndPublishAnEvent) {
  TempDir dir;
  FakeSupervisor sup;
  sup.setModels(kOneUnloadedModel);
  RouterHarness r(supervisedByFake(sup, dir));
  ASSERT_TRUE(waitUntil([&] { return routerKnowsModelDemo(r); }, seconds(5)));
  EXPECT_EQ(snapshotOfConsole(r)["actions"]["load_unload"], true);
  EventReader reader(r.port());
  ASSERT_TRUE(waitUntil([&] { return snapshotOfConsole(r)["events"]["subscribers"] == 1; }, seconds(5)));

  sup.setActionReply(202, R"({"loading":"demo"})");
  const auto load = httpRequest("POST", r.url("/api/models/demo/load"));
  EXPECT_EQ(load.status, 202) << load.body;
  EXPECT_EQ(json::parse(load.body, nullptr, false)["loading"], "demo") << load.body;
  const auto loadEvent = reader.waitFor("model_load_requested");
  ASSERT_TRUE(loadEvent);
  EXPECT_EQ(loadEvent->data["model"], "demo");

  sup.setActionReply(202, R"({"unloading":"demo"})");
  const auto unload = httpRequest("POST", r.url("/api/models/demo/unload"));
  EXPECT_EQ(unload.status, 202) << unload.body;
  const auto unloadEvent = reader.waitFor("model_unload_requested");
  ASSERT_TRUE(unloadEvent);
  EXPECT_EQ(unloadEvent->data["model"], "demo");

  const auto calls = sup.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].method, "POST");
  EXPECT_EQ(calls[0].target, "/children/demo/load");
  EXPECT_EQ(calls[0].authorization, "Bearer control-token-1");
  EXPECT_EQ(calls[1].target, "/children/demo/unload");
  EXPECT_EQ(calls[1].authorization, "Bearer control-token-1");
}

TEST(ConsoleActions, RestartPostsToTheSupervisorWithItsControlTokenAndPublishesAnEvent) {
  TempDir dir;
  FakeSupervisor sup;
  sup.setModels(R"([{"name":"demo","model":"demo","state":"ready","slots":1,"port":1,"pid":42}])");
  RouterHarness r(supervisedByFake(sup, dir));
  ASSERT_TRUE(waitUntil([&] { return routerKnowsModelDemo(r); }, seconds(5)));
  EXPECT_EQ(snapshotOfConsole(r)["actions"]["restart"], true);
  EventReader reader(r.port());
  ASSERT_TRUE(waitUntil([&] { return snapshotOfConsole(r)["events"]["subscribers"] == 1; }, seconds(5)));
  const auto res = httpRequest("POST", r.url("/api/workers/demo/restart"));
  EXPECT_EQ(res.status, 202) << res.body;
  const auto event = reader.waitFor("worker_restart_requested");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->data["worker"], "demo");
  const auto calls = sup.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].target, "/children/demo/restart");
  EXPECT_EQ(calls[0].authorization, "Bearer control-token-1");
}

// The supervisor's long poll answers each percent of a load; the router passes each on as
// a worker_state event with the new load_progress, in the same state.
TEST(ConsoleActions, EachLoadProgressTheSupervisorReportsIsAWorkerStateEvent) {
  TempDir dir;
  FakeSupervisor sup;
  const auto loadingAt = [](const char* progress) {
    return std::string(R"([{"name":"demo","model":"demo","state":"loading","slots":1,"port":1,"pid":42,"load_progress":)") +
           progress + "}]";
  };
  sup.setModels(loadingAt("0.1"));
  RouterHarness r(supervisedByFake(sup, dir));
  ASSERT_TRUE(waitUntil([&] { return routerKnowsModelDemo(r); }, seconds(5)));
  EventReader reader(r.port());
  ASSERT_TRUE(waitUntil([&] { return snapshotOfConsole(r)["events"]["subscribers"] == 1; }, seconds(5)));
  sup.setModels(loadingAt("0.2"));
  const auto e = reader.waitFor("worker_state");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->data["model"], "demo");
  EXPECT_EQ(e->data["state"], "loading");
  EXPECT_DOUBLE_EQ(e->data.value("load_progress", -1.0), 0.2) << e->data.dump();
}

TEST(ConsoleActions, LoadRefusedByTheSupervisorAnswersItsStatusAndReasonAndPublishesNothing) {
  TempDir dir;
  FakeSupervisor sup;
  sup.setModels(kOneUnloadedModel);
  RouterHarness r(supervisedByFake(sup, dir));
  ASSERT_TRUE(waitUntil([&] { return routerKnowsModelDemo(r); }, seconds(5)));
  EventReader reader(r.port());
  ASSERT_TRUE(waitUntil([&] { return snapshotOfConsole(r)["events"]["subscribers"] == 1; }, seconds(5)));

  const std::string reason =
      "'demo' needs about 18 MiB but the loaded models take 18 MiB of node.memory_budget (30 MiB): unload one first";
  sup.setActionReply(409, json{{"error", {{"message", reason}}}}.dump());
  const auto refused = httpRequest("POST", r.url("/api/models/demo/load"));
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(errorIn(refused.body)["message"], reason) << refused.body;

  // The next event is the unload's: the refused load published none.
  sup.setActionReply(202, R"({"unloading":"demo"})");
  ASSERT_EQ(httpRequest("POST", r.url("/api/models/demo/unload")).status, 202);
  ASSERT_TRUE(reader.waitFor("model_unload_requested"));
  for (const auto& e : reader.seen()) EXPECT_NE(e.type, "model_load_requested");
}

TEST(ConsoleActions, LoadTakesPostOnlyAndRefusesAForeignOriginWithoutCallingTheSupervisor) {
  TempDir dir;
  FakeSupervisor sup;
  sup.setModels(kOneUnloadedModel);
  RouterHarness r(supervisedByFake(sup, dir));
  ASSERT_TRUE(waitUntil([&] { return routerKnowsModelDemo(r); }, seconds(5)));
  EXPECT_EQ(httpRequest("GET", r.url("/api/models/demo/load")).status, 404);
  EXPECT_EQ(httpRequest("PUT", r.url("/api/models/demo/load")).status, 405);
  const auto foreign = httpRequest("POST", r.url("/api/models/demo/unload"), "", {{"origin", "http://attacker.example"}});
  EXPECT_EQ(foreign.status, 403);
  EXPECT_EQ(errorIn(foreign.body)["code"], "forbidden_origin");
  EXPECT_EQ(httpRequest("POST", r.url("/api/models/no%20such/load")).status, 400);
  EXPECT_TRUE(sup.calls().empty());
  // The router's own page may: Origin is http:// + its Host.
  const auto own = httpRequest("POST", r.url("/api/models/demo/load"), "",
                               {{"origin", "http://127.0.0.1:" + std::to_string(r.port())}});
  EXPECT_EQ(own.status, 202) << own.body;
  EXPECT_EQ(sup.calls().size(), 1u);
}

TEST(ConsoleActions, LoadInStaticModeSaysThereIsNoSupervisor) {
  RouterHarness r(RouterHarness::config({}));
  const auto res = httpRequest("POST", r.url("/api/models/demo/load"));
  EXPECT_EQ(res.status, 409);
  EXPECT_EQ(errorIn(res.body)["code"], "no_supervisor");
  EXPECT_EQ(snapshotOfConsole(r)["actions"]["load_unload"], false);
}

TEST(ConsoleActions, SupervisorLostWhenItsStatusPollFailsAndBackOnceWhenItAnswersAgain) {
  TempDir dir;
  FakeSupervisor sup;
  sup.setModels(kOneUnloadedModel);
  RouterHarness r(supervisedByFake(sup, dir));
  ASSERT_TRUE(waitUntil([&] { return routerKnowsModelDemo(r); }, seconds(5)));
  // From the first event of this router on (a replay from 0 is a gap: all it keeps).
  EventReader reader(r.port(), "0");

  sup.close();
  const auto lost = reader.waitFor("supervisor_lost");
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->data["address"], "127.0.0.1:" + std::to_string(sup.port()));
  EXPECT_FALSE(lost->data["error"].get<std::string>().empty());
  EXPECT_EQ(snapshotOfConsole(r)["status"]["supervisor"]["reachable"], false);
  // An outage long enough for the router to fail three more polls (100, 200, 400 ms apart):
  // still one event. (The outage's length, not a wait for readiness.)
  std::this_thread::sleep_for(milliseconds(800));

  sup.listen();
  const auto back = reader.waitFor("supervisor_back", seconds(10));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->data["address"], "127.0.0.1:" + std::to_string(sup.port()));
  EXPECT_TRUE(waitUntil([&] { return snapshotOfConsole(r)["status"]["supervisor"]["reachable"] == true; }, seconds(5)));
  int lostEvents = 0, backEvents = 0;
  for (const auto& e : reader.seen()) {
    lostEvents += e.type == "supervisor_lost";
    backEvents += e.type == "supervisor_back";
  }
  EXPECT_EQ(lostEvents, 1);
  EXPECT_EQ(backEvents, 1) << "the router's first answer from its supervisor is no supervisor_back";
}
