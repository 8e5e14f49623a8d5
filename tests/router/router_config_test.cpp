#include "router/router_config.h"

#include <gtest/gtest.h>

#include <set>

#include "router/router_context.h"
#include "tests/support/fake_clock.h"

using namespace qmesh::router;

TEST(WorkerSpec, ParsesModelAddressAndSlots) {
  auto w = parseWorkerSpec("demo=http://127.0.0.1:9000,slots=8");
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(w->model, "demo");
  EXPECT_EQ(w->host, "127.0.0.1");
  EXPECT_EQ(w->port, 9000);
  EXPECT_EQ(w->slots, 8);
  auto d = parseWorkerSpec("m=http://localhost:1/");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->slots, 4);
}

TEST(WorkerSpec, RejectsWhatItCannotUseWithTheReason) {
  EXPECT_NE(parseWorkerSpec("http://127.0.0.1:9000").error().message.find("MODEL="), std::string::npos);
  EXPECT_NE(parseWorkerSpec("m=https://h:1").error().message.find("only http://"), std::string::npos);
  EXPECT_NE(parseWorkerSpec("m=http://h:1,slots=0").error().message.find("slots"), std::string::npos);
  EXPECT_NE(parseWorkerSpec("m=http://h:1,fast=1").error().message.find("unknown option"), std::string::npos);
  EXPECT_FALSE(parseWorkerSpec("m=http://127.0.0.1:0"));
}

TEST(RouterConfig, TakesTheRouterSectionAndControlAddressFromTheNodeYaml) {
  auto node = qmesh::parseNodeConfig(
      "node: {name: n1, control: 127.0.0.1:7171}\nrouter: {listen: 127.0.0.1:8181, api_keys: [secret-key-1], "
      "queue_depth: 3, queue_timeout: 2s}\n",
      "/tmp/n.yaml");
  ASSERT_TRUE(node) << node.error().message;
  const RouterConfig c = fromNodeConfig(*node);
  EXPECT_EQ(c.node_name, "n1");
  ASSERT_TRUE(c.control);
  EXPECT_EQ(c.control->port, 7171);
  EXPECT_EQ(c.listen.port, 8181);
  EXPECT_EQ(c.api_keys, std::vector<std::string>{"secret-key-1"});
  EXPECT_EQ(c.queue_depth, 3);
  EXPECT_EQ(c.queue_timeout, std::chrono::milliseconds(2000));
}

namespace {
// The reasons a RouterContext built from this YAML gives for 40 placements of one
// conversation on two idle workers, each lease released before the next.
std::set<std::string> affinityConfigReasons(const std::string& yaml, std::set<uint16_t>& ports) {
  auto node = qmesh::parseNodeConfig(yaml, "/tmp/n.yaml");
  EXPECT_TRUE(node) << node.error().message;
  if (!node) return {};
  qmesh::test::FakeClock clock;
  RouterContext ctx(fromNodeConfig(*node), clock);
  StatusSnapshot s;
  s.workers.push_back(WorkerInfo{"m", "127.0.0.1", 9, 4, WorkerState::Ready, 1});
  s.workers.push_back(WorkerInfo{"m", "127.0.0.1", 10, 4, WorkerState::Ready, 2});
  ctx.directory.apply(s);
  const RequestTraits chat{stableHash("one conversation")};
  std::set<std::string> reasons;
  for (int i = 0; i < 40; ++i) {
    Lease l = ctx.admission->tryAcquire("m", nullptr, chat);
    if (!l) return {};
    reasons.insert(l.reason());
    ports.insert(l.worker()->info.port);
  }
  return reasons;
}
}  // namespace

TEST(RouterConfig, PrefixAffinityFalseInTheYamlPlacesEveryRequestByLoadAlone) {
  std::set<uint16_t> onPorts, offPorts;
  EXPECT_EQ(affinityConfigReasons("node: {name: n1}\n", onPorts), std::set<std::string>{"affinity 0/4"});
  EXPECT_EQ(onPorts.size(), 1u);  // one conversation, one worker
  EXPECT_EQ(affinityConfigReasons("node: {name: n1}\nrouter: {prefix_affinity: false}\n", offPorts),
            std::set<std::string>{"least-loaded 0/4"});
  EXPECT_EQ(offPorts.size(), 2u);  // random ties: 40 draws put it on both (a miss is 2^-39)
}

TEST(RouterConfig, KeepsTheMemberSnapshotBesideTheIdentityFile) {
  auto node = qmesh::parseNodeConfig(
      "node: {name: n1, data_dir: /var/lib/q}\nmesh: {gossip: 127.0.0.1:7946}\n", "/tmp/n.yaml");
  ASSERT_TRUE(node) << node.error().message;
  EXPECT_EQ(fromNodeConfig(*node).mesh.members_file, std::filesystem::path("/var/lib/q/mesh.members"));
  auto moved = qmesh::parseNodeConfig(
      "node: {name: n1, data_dir: /var/lib/q}\nmesh: {gossip: 127.0.0.1:7946, identity_file: /etc/q/node.id}\n",
      "/tmp/n.yaml");
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(fromNodeConfig(*moved).mesh.members_file, std::filesystem::path("/etc/q/mesh.members"));
}
