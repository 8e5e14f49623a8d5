// Names and addresses a node gossips about itself are signed, but the node may be hostile:
// before they reach logs, JSON, metrics labels or sockets they are held to the config's
// rules, and worker info that breaks them is refused whole.
#include <gtest/gtest.h>

#include "common/names.h"
#include "router/membership/messages.h"
#include "router/mesh/node_meta.h"

using namespace qmesh::router;

namespace {

NodeMeta valid() {
  NodeMeta m;
  m.version = "0.4.0";
  m.dataAddress = "10.1.2.3:7947";
  m.workers.push_back({"demo-a", WorkerState::Ready, 4, 1, 0, 70, false});
  m.workers.push_back({"org/model:q4_k_m", WorkerState::Ready, 2, 0, 0, 72, true});
  return m;
}

qmesh::Result<NodeMeta> roundTrip(const NodeMeta& m) {
  return decodeNodeMeta(encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes));
}

}  // namespace

TEST(GossipedNames, FollowTheConfigNameRule) {
  for (const char* ok : {"a", "demo", "Qwen2.5-7B", "org/model:q4_k_m", "0.4.0"}) EXPECT_TRUE(qmesh::isValidName(ok)) << ok;
  for (const char* bad : {"", "-lead", ".hidden", "two words", "new\nline", "quote\"", "label}", "caf\xc3\xa9",
                          "\xff\xfe", "tab\t"})
    EXPECT_FALSE(qmesh::isValidName(bad)) << bad;
  EXPECT_TRUE(qmesh::isValidName(std::string(128, 'x')));
  EXPECT_FALSE(qmesh::isValidName(std::string(129, 'x')));
}

TEST(GossipedNames, ValidWorkerInfoReadsBack) {
  auto back = roundTrip(valid());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, valid());
}

TEST(GossipedNames, AModelNameBreakingTheRuleRefusesTheWorkerInfoWithoutEchoingIt) {
  NodeMeta m = valid();
  m.workers[1].model = "evil\"} 1\nqmesh_fake_total{x=\"";
  auto back = roundTrip(m);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().message.find("evil"), std::string::npos) << back.error().message;
  m.workers[1].model = "\xff\xfe";  // not even UTF-8: would throw in json::dump()
  EXPECT_FALSE(roundTrip(m));
}

TEST(GossipedNames, AVersionBreakingTheRuleRefusesTheWorkerInfo) {
  NodeMeta m = valid();
  m.version = "1.0\r\nX-Injected: 1";
  EXPECT_FALSE(roundTrip(m));
}

TEST(GossipedNames, ADataAddressMustBeANumericIpAndPort) {
  for (const char* bad : {"peer.example.com:7947", "10.1.2.3", "10.1.2.3:0", "10.1.2.3:7947\n", ""}) {
    NodeMeta m = valid();
    m.dataAddress = bad;
    EXPECT_FALSE(roundTrip(m)) << bad;
  }
  NodeMeta v6 = valid();
  v6.dataAddress = "[fd00::1]:7947";
  EXPECT_TRUE(roundTrip(v6));
}

TEST(GossipedNames, AMemberRecordNeedsAValidNameAndANumericAddress) {
  qmesh::membership::Member m;
  m.name = "node-1";
  m.address = "10.0.0.1:7946";
  EXPECT_TRUE(qmesh::membership::isUsableRecord(m));
  m.address = "[::1]:7946";
  EXPECT_TRUE(qmesh::membership::isUsableRecord(m));
  for (const char* bad : {"localhost:7946", "evil.example:7946", ":7946", "10.0.0.1:07946", "[::1]:7946 "}) {
    m.address = bad;
    EXPECT_FALSE(qmesh::membership::isUsableRecord(m)) << bad;
  }
  m.address = "10.0.0.1:7946";
  m.name = "node\x1b[31m";
  EXPECT_FALSE(qmesh::membership::isUsableRecord(m));
}
