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
