// /v1/models as a client choosing a model reads it: qmesh.state says whether a model can
// answer now (issue 10: an on_demand model is listed while unloaded).
#include "router/proxy/local_pages.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/fake_clock.h"

using namespace qmesh::router;

namespace {
std::string stateOf(const nlohmann::json& models, const std::string& id) {
  for (const auto& m : models["data"])
    if (m["id"] == id) return m["qmesh"].value("state", "");
  return "(not listed)";
}
}  // namespace

TEST(ModelsPage, StateIsTheMostUsefulOfItsWorkersAndUnloadedWhenNoneRuns) {
  qmesh::test::FakeClock clock;
  RouterContext st{RouterConfig{}, clock};
  StatusSnapshot s;
  s.workers.push_back(WorkerInfo{"m", "127.0.0.1", 9, 1, WorkerState::Loading, 1, false, 0});
  s.workers.push_back(WorkerInfo{"m", "127.0.0.1", 10, 1, WorkerState::Ready, 2, false, 0});
  s.workers.push_back(WorkerInfo{"big", "127.0.0.1", 0, 1, WorkerState::Unloaded, 0, false, 0});
  s.workers.push_back(WorkerInfo{"warming", "127.0.0.1", 11, 1, WorkerState::Loading, 3, false, 0});
  st.directory.apply(s);
  const auto models = nlohmann::json::parse(modelsJson(st));
  EXPECT_EQ(stateOf(models, "m"), "ready");
  EXPECT_EQ(stateOf(models, "big"), "unloaded");
  EXPECT_EQ(stateOf(models, "warming"), "loading");
}

// Tokens/s per worker in /api/status: this node counts its own workers' streams; another
// node's come from its gossip, null when it did not say (an older node).
TEST(ApiStatusPage, TellsTokensPerSecondOfLocalWorkersAndWhatGossipSaidOfRemoteOnes) {
  qmesh::test::FakeClock clock;
  RouterConfig cfg;
  cfg.node_name = "a";
  RouterContext st{cfg, clock};
  StatusSnapshot s;
  s.workers.push_back(WorkerInfo{"m", "127.0.0.1", 9, 1, WorkerState::Ready, 1, false, 0});
  st.directory.apply(s);
  WorkerInfo told{"m"}, silent{"m"};
  told.node = "b";
  told.state = silent.state = WorkerState::Ready;
  told.tokensPerSecond = 12.5;
  silent.node = "c";
  st.directory.applyRemote("peer-b", {told});
  st.directory.applyRemote("peer-c", {silent});
  st.console.localRates.record("m", 100, std::chrono::milliseconds(4000), clock.now());
  const auto status = nlohmann::json::parse(apiStatusJson(st, false));
  std::map<std::string, nlohmann::json> byNode;
  for (const auto& w : status["models"][0]["workers"]) byNode[w["node"]] = w["tokens_per_s"];
  ASSERT_EQ(byNode.size(), 3u) << status.dump();
  EXPECT_EQ(byNode["a"], 25.0);
  EXPECT_EQ(byNode["b"], 12.5);
  EXPECT_TRUE(byNode["c"].is_null()) << byNode["c"];
}

// Issue 10, part 3: a model only other nodes have, loadable there, is listed too, with the
// nodes a request for it would load it on.
TEST(ModelsPage, ListsModelsLoadableOnOtherNodesWithTheNodesThatCanLoadThem) {
  qmesh::test::FakeClock clock;
  RouterConfig cfg;
  cfg.node_name = "a";
  RouterContext st{cfg, clock};
  StatusSnapshot s;
  s.workers.push_back(WorkerInfo{"here", "127.0.0.1", 0, 1, WorkerState::Unloaded, 0, false, 0});
  st.directory.apply(s);
  auto remote = [](const std::string& node, const std::string& model, WorkerState state) {
    WorkerInfo w{model, "", 0, 1, state, 0, false, 0};
    w.remote = true;
    w.node = node;
    return w;
  };
  st.directory.applyRemote("bb", {remote("b", "big", WorkerState::Unloaded), remote("b", "warm", WorkerState::Ready)});
  st.directory.applyRemote("cc", {remote("c", "big", WorkerState::Unloaded), remote("c", "warm", WorkerState::Unloaded)});
  const auto models = nlohmann::json::parse(modelsJson(st));
  auto loadableOn = [&models](const std::string& id) {
    for (const auto& m : models["data"])
      if (m["id"] == id) return m["qmesh"]["loadable_on"];
    return nlohmann::json("(not listed)");
  };
  EXPECT_EQ(stateOf(models, "big"), "unloaded");
  EXPECT_EQ(loadableOn("big"), nlohmann::json::array({"b", "c"}));
  EXPECT_EQ(loadableOn("here"), nlohmann::json::array({"a"}));
  EXPECT_EQ(stateOf(models, "warm"), "ready");
  EXPECT_EQ(loadableOn("warm"), nlohmann::json::array({"c"})) << "loaded on b, loadable on c";
}
