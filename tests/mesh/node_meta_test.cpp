#include "router/mesh/node_meta.h"

#include <gtest/gtest.h>

#include "router/membership/messages.h"

using namespace qmesh::router;

namespace {
// The tail sections of sample()'s meta, from the end: tokens/s (2 x u16), then the digests
// (1 + 1 + 32), then load and boot time (6).
constexpr std::size_t kLoadBytes = 4, kRestartsBytes = 4, kRatesBytes = 4, kBudgetBytes = 5, kDigestBytes = 34;

NodeMeta sample() {
  NodeMeta m;
  m.version = "0.4.0";
  m.dataAddress = "10.1.2.3:7947";
  m.cpuPercent = 40;
  m.memPercent = 30;
  m.workers.push_back({"demo-a", WorkerState::Ready, 4, 1, 0, 70, false});
  m.workers.push_back({"embed", WorkerState::Loading, 2, 0, 0, 72, true, std::string(64, 'c')});
  m.workers[0].tokenRateTenths = 1234;
  m.workers[1].tokenRateTenths = 0;
  m.workers[0].restarts = 3;
  m.workers[1].restarts = 0;
  m.workers[0].loadPercent = 37;
  m.loadTenths = 15;
  m.bootUnix = 1'764'000'000;
  m.freeMemoryMiB = 6144;
  m.loadsInProgress = 1;
  return m;
}
}  // namespace

TEST(NodeMeta, RoundTrips) {
  const NodeMeta m = sample();
  auto bytes = encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes);
  auto back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, m);
}

TEST(NodeMeta, EveryTruncationIsAnErrorNotACrash) {
  auto bytes = encodeNodeMeta(sample(), qmesh::membership::kMaxMetaBytes);
  // The meta of an older node ends before the tokens/s, or also before the free budget and
  // loads (5 bytes), or also before the digests (1 + 1 + 32 bytes of them here), or also
  // before the load and boot time (6 bytes); a cut anywhere else is an error.
  const std::size_t noLoad = bytes.size() - kLoadBytes, noRestarts = noLoad - kRestartsBytes,
                    noRates = noRestarts - kRatesBytes,
                    noBudget = noRates - kBudgetBytes,
                    noDigests = noBudget - kDigestBytes, noTail = noDigests - 6;
  for (std::size_t n = 0; n < bytes.size(); ++n)
    if (n < noTail || (n > noDigests && n != noBudget && n != noRates && n != noRestarts && n != noLoad)) {
      EXPECT_FALSE(decodeNodeMeta(std::span(bytes.data(), n))) << "prefix of " << n << " bytes decoded";
    }
}

TEST(NodeMeta, TrailingBytesOfANewerRevisionAreIgnored) {
  auto bytes = encodeNodeMeta(sample(), qmesh::membership::kMaxMetaBytes);
  bytes.push_back(0xAB);
  auto back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->workers.size(), 2u);
}

TEST(NodeMeta, DigestsRoundTripAndAnOlderNodesMetaHasNone) {
  const NodeMeta m = sample();
  auto bytes = encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes);
  auto back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->workers[0].digest, "");
  EXPECT_EQ(back->workers[1].digest, std::string(64, 'c'));
  bytes.resize(bytes.size() - kLoadBytes - kRestartsBytes - kRatesBytes - kBudgetBytes - kDigestBytes);  // what a node from before digests sends
  back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->workers[1].digest, "");
  EXPECT_EQ(back->loadTenths, 15);
}

TEST(NodeMeta, OlderNodesMetaWithoutLoadAndBootTimeReadsThemAsUnknown) {
  auto bytes = encodeNodeMeta(sample(), qmesh::membership::kMaxMetaBytes);
  const std::size_t noDigests = bytes.size() - kLoadBytes - kRestartsBytes - kRatesBytes - kBudgetBytes - kDigestBytes;
  for (std::size_t cut = 1; cut <= 6; ++cut) {
    auto back = decodeNodeMeta(std::span(bytes.data(), noDigests - cut));
    ASSERT_TRUE(back) << cut;
    EXPECT_EQ(back->workers.size(), 2u);
    EXPECT_EQ(back->loadTenths, 0) << cut;
    EXPECT_EQ(back->bootUnix, 0) << cut;
    EXPECT_EQ(back->workers[1].digest, "") << cut;
  }
}

// Appended after the digests: an older node's meta has none (unknown, not 0), and the bytes
// before them are what an older node sends, so an older decoder reads the rest unchanged.
TEST(NodeMeta, TokenRatesRoundTripAndAnOlderNodesMetaHasNone) {
  const NodeMeta m = sample();
  auto bytes = encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes);
  auto back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->workers[0].tokenRateTenths, 1234);
  EXPECT_EQ(back->workers[1].tokenRateTenths, 0);
  NodeMeta unknown = m;
  for (auto& w : unknown.workers) w.tokenRateTenths = -1;
  const auto older = std::vector<uint8_t>(bytes.begin(), bytes.end() - kLoadBytes - kRestartsBytes - kRatesBytes);
  auto withoutRates = encodeNodeMeta(unknown, qmesh::membership::kMaxMetaBytes);
  EXPECT_EQ(std::vector<uint8_t>(withoutRates.begin(), withoutRates.end() - kLoadBytes - kRestartsBytes - kRatesBytes), older)
      << "the rates only append: everything before them is unchanged";
  back = decodeNodeMeta(older);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->workers[0].tokenRateTenths, -1);
  EXPECT_EQ(back->workers[1].digest, std::string(64, 'c'));
  NodeMeta fast = m;
  fast.workers[0].tokenRateTenths = 1'000'000;  // clamped to what a u16 holds, 0xffff being "unknown"
  fast.workers[1].tokenRateTenths = -1;
  const auto fastBack = decodeNodeMeta(encodeNodeMeta(fast, qmesh::membership::kMaxMetaBytes));
  ASSERT_TRUE(fastBack);
  EXPECT_EQ(fastBack->workers[0].tokenRateTenths, 65534);
  EXPECT_EQ(fastBack->workers[1].tokenRateTenths, -1);
}

// The console's restarts column for other nodes' workers: last in the meta, so a node from
// before them reads as "not told" (-1), never as 0 restarts.
TEST(NodeMeta, RestartsRoundTripAndAnOlderNodesMetaHasNone) {
  const NodeMeta m = sample();
  auto bytes = encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes);
  auto back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->workers[0].restarts, 3);
  EXPECT_EQ(back->workers[1].restarts, 0);
  bytes.resize(bytes.size() - kLoadBytes - kRestartsBytes);
  back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->workers[0].restarts, -1);
  EXPECT_EQ(back->workers[0].loadPercent, -1);
  EXPECT_EQ(back->workers[0].tokenRateTenths, 1234) << "the rates before them read unchanged";
}

// Another node's worker that loads: the console draws its progress bar from this.
TEST(NodeMeta, LoadProgressRoundTripsAndAnOlderNodesMetaHasNone) {
  const NodeMeta m = sample();
  auto bytes = encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes);
  auto back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->workers[0].loadPercent, 37);
  EXPECT_EQ(back->workers[1].loadPercent, -1);
  bytes.resize(bytes.size() - kLoadBytes);
  back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->workers[0].loadPercent, -1);
  EXPECT_EQ(back->workers[0].restarts, 3) << "the restarts before it read unchanged";
}

TEST(NodeMeta, UnknownFormatIsRejected) {
  auto bytes = encodeNodeMeta(sample(), qmesh::membership::kMaxMetaBytes);
  bytes[0] = 99;
  auto back = decodeNodeMeta(bytes);
  ASSERT_FALSE(back);
  EXPECT_NE(back.error().message.find("format 99"), std::string::npos);
}

TEST(NodeMeta, WorkersThatDoNotFitAreDroppedAndCounted) {
  NodeMeta m = sample();
  for (int i = 0; i < 40; ++i)
    m.workers.push_back({std::string(40, 'm') + std::to_string(i), WorkerState::Ready, 4, 0, 0, 90, false});
  std::size_t dropped = 0;
  auto bytes = encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes, &dropped);
  EXPECT_LE(bytes.size(), qmesh::membership::kMaxMetaBytes);
  EXPECT_GT(dropped, 0u);
  auto back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->workers.size() + dropped, m.workers.size());
}

TEST(HealthScore, FollowsQMeshFormula) {
  // (100-cpu)*0.4 + (100-mem)*0.4 + queue_free%*0.2
  EXPECT_EQ(healthScore(0, 0, 4, 0, 0), 100);
  EXPECT_EQ(healthScore(50, 50, 4, 0, 0), 60);
  EXPECT_EQ(healthScore(50, 50, 4, 2, 0), 50);
  EXPECT_EQ(healthScore(100, 100, 4, 4, 3), 0);
  EXPECT_EQ(healthScore(100, 100, 0, 0, 0), 20);  // no slots known: queue counts as free
}

// An unloaded model (models[].load: on_demand) travels as itself, the code appended after
// Unknown so older nodes read it as unknown.
TEST(NodeMeta, UnloadedWorkerStateRoundTrips) {
  NodeMeta m = sample();
  m.workers[1].state = WorkerState::Unloaded;
  auto back = decodeNodeMeta(encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->workers[1].state, WorkerState::Unloaded);
}

// Issue 12, drain: bit 1 of a worker's flags; bit 0 (embeddings) is unchanged, and a decoder
// that predates it reads the flags with `& 1` only.
TEST(NodeMeta, DrainingRidesInTheWorkerFlagsBesideEmbeddings) {
  NodeMeta m = sample();
  m.workers[1].draining = true;
  auto back = decodeNodeMeta(encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_FALSE(back->workers[0].draining);
  EXPECT_TRUE(back->workers[1].draining);
  EXPECT_TRUE(back->workers[1].embeddings);
  EXPECT_FALSE(back->workers[0].embeddings);
}

// Issue 10, part 3: where the mesh loads a model on demand. The free budget and the loads in
// progress follow the digests; a node from before them is read as unbounded with none.
TEST(NodeMeta, FreeBudgetAndLoadsInProgressRoundTripAndAreUnboundedAndZeroFromAnOlderNode) {
  NodeMeta m = sample();
  m.freeMemoryMiB = 1234;
  m.loadsInProgress = 300;  // clamped to a byte
  auto bytes = encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes);
  auto back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->freeMemoryMiB, 1234u);
  EXPECT_EQ(back->loadsInProgress, 255);
  EXPECT_EQ(back->workers[1].digest, std::string(64, 'c')) << "the digests before them read unchanged";
  bytes.resize(bytes.size() - kLoadBytes - kRestartsBytes - kRatesBytes - kBudgetBytes);
  back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->freeMemoryMiB, NodeMeta::kNoBudget);
  EXPECT_EQ(back->loadsInProgress, 0);
}

// With too many workers for their digests, the budget still travels: a "no digest" byte per
// worker stands in for the digests so that it stays where a decoder looks for it.
TEST(NodeMeta, FreeBudgetTravelsEvenWhenTheDigestsDoNotFit) {
  NodeMeta m = sample();
  m.freeMemoryMiB = 777;
  for (int i = 0; i < 14; ++i)
    m.workers.push_back({"model-" + std::to_string(i), WorkerState::Unloaded, 1, 0, 0, 90, false, std::string(64, 'a')});
  std::size_t dropped = 0;
  auto bytes = encodeNodeMeta(m, qmesh::membership::kMaxMetaBytes, &dropped);
  ASSERT_EQ(dropped, 0u) << "the test wants every worker in, only the digests left out";
  auto back = decodeNodeMeta(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->workers[1].digest, "") << "the digests were meant not to fit; make the workers' names longer";
  EXPECT_EQ(back->freeMemoryMiB, 777u);
  EXPECT_EQ(back->loadsInProgress, 1);
}
