// Issue 12 across a real three-node mesh (supervisor + router + llama-server each, the demo
// model on b and c under one name, so they are replicas of each other across nodes), with
// the official `openai` npm client (tests/integration/node/mesh_stream_client.mjs):
//   - kill -9 of every process of the node serving a stream that a relays: the stream ends
//     whole on the other node; the same with logprobs ends in an error the SDK raises;
//   - SIGTERM (a drain) of a node while it serves streams, one from its own router and one
//     relayed by another: both end whole, and the node leaves the mesh and exits 0;
//   - a rolling restart of all three nodes under steady streaming load loses no request.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "tests/integration/mesh_fixture.h"
#include "tests/integration/node_fixture.h"
#include "tests/support/http_client.h"

using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

std::filesystem::path meshClientScript() { return sourceDir() / "tests" / "integration" / "node" / "mesh_stream_client.mjs"; }

// Workers of `model` that `n`'s router can route to and whose digest it knows.
int routableWithDigest(const MeshTestNode& n, const std::string& model) {
  const auto r = httpGet(n.routerUrl("/api/status"), seconds(2));
  const auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("models")) return 0;
  int count = 0;
  for (const auto& m : j["models"])
    if (m.value("name", "") == model)
      for (const auto& w : m["workers"]) count += w.value("routable", false) && !w.value("digest", "").empty();
  return count;
}

// Requests in flight on `n`'s own workers (its own clients' and hops from other routers).
int localOutstanding(const MeshTestNode& n) {
  const auto j = json::parse(httpGet(n.routerUrl("/api/status"), seconds(2)).body, nullptr, false);
  if (!j.is_object() || !j.contains("models")) return 0;
  int count = 0;
  for (const auto& m : j["models"])
    for (const auto& w : m["workers"])
      if (!w.value("remote", true)) count += w.value("outstanding", 0);
  return count;
}

class MeshDrain : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveRealLlamaServer()) GTEST_SKIP() << "llama-server or the demo model is not built yet";
    if (!std::filesystem::exists(meshClientScript().parent_path() / "node_modules" / "openai"))
      GTEST_SKIP() << "the openai npm package is not installed";
  }

  // a, b and c; `models` names what each serves ("" = a router-only node).
  void startMesh(const std::vector<std::string>& models, const std::string& nodeYaml,
                 const std::string& supervisorYaml = "") {
    const char* names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; ++i) {
      MeshNodeSpec spec{names[i], models[i], {}, dir / (std::string(names[i]) + ".keys"), {}};
      spec.ctxSize = 8192;  // 4096 tokens a slot: long streams
      spec.nodeYaml = nodeYaml;
      spec.supervisorYaml = supervisorYaml;
      if (i > 0) spec.seeds = {nodes[0]->gossipAddress()};
      nodes.push_back(std::make_unique<MeshTestNode>(dir.path(), spec));
      if (i == 0) {
        nodes[0]->start();
        ASSERT_TRUE(waitUntil([&] { return nodes[0]->mesh().has_value(); }, seconds(60))) << nodes[0]->log();
        for (const char* k : {"b.keys", "c.keys"})
          std::filesystem::copy_file(dir / "a.keys", dir / k, std::filesystem::copy_options::overwrite_existing);
      }
    }
    nodes[1]->start();
    nodes[2]->start();
    ASSERT_TRUE(waitForMeshState(all(), {"a", "b", "c"}, "alive", seconds(60))) << logs();
    int servers = 0;
    for (const auto& m : models) servers += !m.empty();
    for (auto* n : all())
      ASSERT_TRUE(waitUntil([&] { return routableWithDigest(*n, "demo") == servers; }, seconds(60)))
          << n->name() << " never saw " << servers << " workers of demo with their digest:\n" << logs();
  }

  std::vector<MeshTestNode*> all() {
    std::vector<MeshTestNode*> out;
    for (auto& n : nodes) out.push_back(n.get());
    return out;
  }
  MeshTestNode& node(const std::string& name) {
    for (auto& n : nodes)
      if (n->name() == name) return *n;
    throw std::runtime_error("no node " + name);
  }
  // {"a": [supervisor, its children...], ...}: everything of each node, for the script.
  std::string nodesJson() {
    json j = json::object();
    for (auto* n : all()) {
      json pids = json::array({n->supervisorPid()});
      for (pid_t p : childrenOf(n->supervisorPid())) pids.push_back(p);
      j[n->name()] = pids;
    }
    return j.dump();
  }
  std::string logs() {
    std::string out;
    for (auto* n : all()) out += "\n--- " + n->name() + ":\n" + n->log();
    return out;
  }
  std::string metricsOf(const std::string& name) { return httpGet(node(name).routerUrl("/metrics"), seconds(2)).body; }

  TempDir dir;
  std::vector<std::unique_ptr<MeshTestNode>> nodes;
};

}  // namespace

TEST_F(MeshDrain, KillNineOfTheServingNodeContinuesTheStreamOnTheOtherNode) {
  startMesh({"", "demo", "demo"}, "");
  const auto r = runCommand({"/usr/bin/env", "node", meshClientScript().string(), "kill", nodes[0]->routerUrl("/v1"),
                             "demo", nodesJson()},
                            seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.output << logs();
  const std::string m = metricsOf("a");
  // a relayed it: a broken channel (reset) or its end without [DONE] (eof).
  EXPECT_TRUE(m.find("qmesh_stream_continuations_total{model=\"demo\",reason=\"reset\"} 1") != std::string::npos ||
              m.find("qmesh_stream_continuations_total{model=\"demo\",reason=\"eof\"} 1") != std::string::npos)
      << m;
}

TEST_F(MeshDrain, KilledNodesStreamWithLogprobsEndsInAnErrorTheSdkRaises) {
  startMesh({"", "demo", "demo"}, "");
  const auto r = runCommand({"/usr/bin/env", "node", meshClientScript().string(), "kill", nodes[0]->routerUrl("/v1"),
                             "demo", nodesJson(), "refuse"},
                            seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.output << logs();
  EXPECT_NE(metricsOf("a").find("qmesh_stream_continuations_refused_total{model=\"demo\",reason=\"logprobs\"} 1"),
            std::string::npos)
      << metricsOf("a");
}

// b drains while it serves two streams, one for its own router's client and one relayed by
// a. node.drain_timeout (300 ms) ends long before the streams (1,000 tokens, seconds of
// decoding), so b's workers stop under both: a continues its stream on c, and b's router
// continues its own client's stream on c too (it stays in the mesh until that stream is
// done, within stop_grace, 10 s here, after the drain's deadline). Both streams end whole.
TEST_F(MeshDrain, DrainOfTheServingNodeLosesNoStream) {
  std::string settings = fastSupervisorSettings();
  settings.replace(settings.find("stop_grace: 2s"), 14, "stop_grace: 10s");
  startMesh({"", "demo", "demo"}, "  drain_timeout: 300ms\n", settings);
  MeshTestNode& b = node("b");
  const auto r = runCommand({"/usr/bin/env", "node", meshClientScript().string(), "drain", "b", nodesJson(), "demo",
                             "1000", nodes[0]->routerUrl(), b.routerUrl()},
                            seconds(90));
  EXPECT_EQ(r.exit_code, 0) << r.output << logs();
  ASSERT_TRUE(waitUntil([&] { return !b.supervisorStatus().has_value(); }, seconds(20))) << b.log();
  EXPECT_NE(b.log().find("drain: node.drain_timeout is over; stopping the workers"), std::string::npos) << b.log();
  EXPECT_NE(b.log().find("mesh: leaving the mesh"), std::string::npos) << b.log();
  EXPECT_TRUE(waitForMeshState({nodes[0].get(), nodes[2].get()}, {"b"}, "left", seconds(10))) << logs();
  EXPECT_EQ(b.stop(), true);
}

// Every node serves demo; four clients stream without pause, each request sent to a router
// whose /readyz answers 200. Each node in turn gets SIGTERM (a drain), exits, and starts again;
// the next one goes once it is back and ready. No request may be lost.
TEST_F(MeshDrain, RollingRestartOfEveryNodeUnderStreamingLoadLosesNoRequest) {
  startMesh({"demo", "demo", "demo"}, "  drain_timeout: 10s\n");
  const std::filesystem::path stop = dir / "stop-load";
  json urls = json::array();
  for (auto* n : all()) urls.push_back(n->routerUrl());
  TestProcess load({"/usr/bin/env", "node", meshClientScript().string(), "load", urls.dump(), "demo", "4", "200",
                    stop.string()},
                   dir / "load.log");
  for (auto* n : all()) {
    // Each drain has streams of the load to finish: it starts while n's workers serve one.
    ASSERT_TRUE(waitUntil([&] { return localOutstanding(*n) > 0; }, seconds(30))) << n->name() << logs();
    const auto before = steady_clock::now();
    ASSERT_TRUE(n->stop()) << n->name() << " did not drain and stop:\n" << n->log();
    std::cerr << "[ rolling  ] " << n->name() << " drained and stopped in "
              << duration_cast<milliseconds>(steady_clock::now() - before).count() << " ms\n";
    n->start();
    ASSERT_TRUE(waitUntil([&] { return httpGet(n->routerUrl("/readyz"), seconds(1)).status == 200; }, seconds(60)))
        << n->log();
    ASSERT_TRUE(waitForMeshState(all(), {"a", "b", "c"}, "alive", seconds(30))) << logs();
  }
  std::ofstream(stop) << "stop\n";
  ASSERT_TRUE(load.waitExit(seconds(60)).has_value());
  const std::string out = load.output();
  EXPECT_EQ(load.exitCode(), 0) << out << logs();
  const auto line = out.substr(0, out.find('\n'));
  const auto counts = json::parse(line, nullptr, false);
  ASSERT_TRUE(counts.is_object()) << out;
  std::cerr << "[ rolling  ] load: " << line << "\n";
  EXPECT_EQ(counts["lost"], 0) << out;
  // At least the streams each drain had to finish, and what ran between the restarts.
  EXPECT_GE(counts["completed"].get<int>(), 6) << out;
}
