// Issue 10, part 3, end to end: two real nodes in one mesh (supervisor + router, and the real
// llama-server on the demo model). a has no model of its own; b has "m" on disk, loaded on
// demand and unloaded. a lists "m" as loadable on b; a request to a for it makes a send b an
// authenticated load request over the data plane; b loads it, and a's client is served.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <iostream>

#include "tests/integration/mesh_fixture.h"
#include "tests/integration/node_fixture.h"
#include "tests/support/http_client.h"

namespace qmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::optional<json> listedOnDemandModel(MeshTestNode& n, const std::string& id) {
  const auto j = json::parse(httpGet(n.routerUrl("/v1/models"), 2s).body, nullptr, false);
  if (!j.is_object() || !j.contains("data")) return std::nullopt;
  for (const auto& m : j["data"])
    if (m.value("id", "") == id) return m;
  return std::nullopt;
}

std::string meshOnDemandChat(bool stream) {
  return json{{"model", "m"},
              {"messages", json::array({json{{"role", "user"}, {"content", "hello"}}})},
              {"max_tokens", 8},
              {"stream", stream}}
      .dump();
}

// a (no model) and b ("m", loaded on demand, unloaded; `modelYaml` adds to its entry), in one
// mesh, each seeing the other alive.
class MeshOnDemandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveRealLlamaServer()) GTEST_SKIP() << "needs the packaged llama-server and demo model";
  }
  void startPair(const std::string& modelYaml) {
    a = std::make_unique<MeshTestNode>(dir.path(), MeshNodeSpec{"a", "", {}, dir / "a.keys", {}});
    a->start();
    ASSERT_TRUE(waitUntil([&] { return a->mesh().has_value(); }, 60s)) << a->log();
    std::filesystem::copy_file(dir / "a.keys", dir / "b.keys");
    MeshNodeSpec bs{"b", "m", {a->gossipAddress()}, dir / "b.keys", {}};
    bs.modelYaml = "    load: on_demand\n" + modelYaml;
    b = std::make_unique<MeshTestNode>(dir.path(), bs);
    b->start();
    ASSERT_TRUE(waitForMeshState({a.get(), b.get()}, {"a", "b"}, "alive", 60s)) << a->log() << b->log();
    ASSERT_TRUE(waitUntil([&] { return listedOnDemandModel(*a, "m").has_value(); }, 30s)) << a->log();
  }

  TempDir dir;
  std::unique_ptr<MeshTestNode> a, b;
};

TEST_F(MeshOnDemandTest, RequestForAModelOnlyAnotherNodeCanLoadIsServedOnceItLoadedThere) {
  ASSERT_NO_FATAL_FAILURE(startPair(""));
  MeshTestNode& a = *this->a;
  MeshTestNode& b = *this->b;

  // a lists it, loadable on b, before anyone asked for it.
  const json listed = *listedOnDemandModel(a, "m");
  EXPECT_EQ(listed["qmesh"].value("state", ""), "unloaded") << listed.dump();
  EXPECT_EQ(listed["qmesh"]["loadable_on"], json::array({"b"})) << listed.dump();
  ASSERT_EQ((*b.supervisorStatus())["models"][0].value("state", ""), "unloaded");
  // What a chose by: b's gossip, shown in a's /api/mesh (b has no node.memory_budget).
  json bSeenByA;
  for (const auto& m : a.mesh().value_or(json::object()).value("members", json::array()))
    if (m.value("name", "") == "b") bSeenByA = m;
  EXPECT_TRUE(bSeenByA.contains("free_memory_mib") && bSeenByA["free_memory_mib"].is_null()) << bSeenByA.dump();
  EXPECT_EQ(bSeenByA.value("loads_in_progress", -1), 0) << bSeenByA.dump();

  const auto chat = meshOnDemandChat(true);
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> firstByte;
  const auto res = httpPostStream(a.routerUrl("/v1/chat/completions"), chat, [&](const std::string&) {
    if (!firstByte) firstByte = std::chrono::steady_clock::now();
    return true;
  });
  ASSERT_EQ(res.status, 200) << res.body << "\na:\n" << a.log() << "\nb:\n" << b.log();
  EXPECT_NE(res.body.find("data: [DONE]"), std::string::npos) << res.body;
  EXPECT_NE(res.headers.at("x-qmesh-route").find("> b/"), std::string::npos) << res.headers.at("x-qmesh-route");
  EXPECT_NE(a.log().find("asking node b to load it"), std::string::npos) << a.log();
  EXPECT_NE(b.log().find("node a asks this node to load model m"), std::string::npos) << b.log();
  ASSERT_TRUE(firstByte);
  std::cout << "[ figure ] cold cross-node request (a's client, b loads the demo model), request -> first byte: "
            << std::chrono::duration<double>(*firstByte - t0).count() << " s\n";

  // Loaded now: listed as ready, no longer loadable, and the next request goes straight there.
  EXPECT_EQ((*b.supervisorStatus())["models"][0].value("state", ""), "ready");
  EXPECT_TRUE(waitUntil([&] { return listedOnDemandModel(a, "m").value_or(json{})["qmesh"].value("state", "") == "ready"; },
                        10s));
  EXPECT_EQ(listedOnDemandModel(a, "m").value_or(json{})["qmesh"]["loadable_on"], json::array());
  EXPECT_EQ(httpPostJson(a.routerUrl("/v1/chat/completions"), chat).status, 200);
}

// b's llama-server refuses to start: a's client gets 503 model_load_failed, in OpenAI's error
// shape, naming b and b's reason, well before router.queue_timeout.
TEST_F(MeshOnDemandTest, LoadThatFailsOnTheOtherNodeAnswersTheClientWith503ModelLoadFailed) {
  ASSERT_NO_FATAL_FAILURE(startPair("    extra_args: [\"--no-such-llama-flag\"]\n"));
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = httpPostJson(a->routerUrl("/v1/chat/completions"), meshOnDemandChat(false));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(res.status, 503) << res.body << "\na:\n" << a->log() << "\nb:\n" << b->log();
  const auto j = json::parse(res.body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << res.body;
  EXPECT_EQ(j["error"].value("code", ""), "model_load_failed") << res.body;
  EXPECT_EQ(j["error"].value("type", ""), "server_error") << res.body;
  EXPECT_NE(j["error"].value("message", "").find("on node b failed"), std::string::npos) << res.body;
  EXPECT_LT(took, 20.0) << "answered by router.queue_timeout (30 s), not by the failed load";
  std::cout << "[ answer ] " << took << " s: " << res.body << "\n";
}

}  // namespace
}  // namespace qmesh::test
