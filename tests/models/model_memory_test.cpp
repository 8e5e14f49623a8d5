// The memory estimate from a GGUF header (common/model_memory.h), node.memory_budget's
// syntax, and the startup check that refuses models the budget cannot hold
// (supervisor/memory_budget.h).
#include "common/model_memory.h"

#include <gtest/gtest.h>

#include "supervisor/memory_budget.h"
#include "tests/support/test_env.h"

namespace qmesh {
namespace {

::testing::AssertionResult memContains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message: " << text << "\nlacks:   " << part;
}

// A llama-7B-like header: 32 layers, 4096 wide, 32 heads.
GgufMetadata llama7b() {
  GgufMetadata g;
  g.tensor_bytes = 3800ull << 20;
  g.context_length = 4096;
  g.block_count = 32;
  g.embedding_length = 4096;
  g.head_count = 32;
  return g;
}

TEST(ModelMemoryTest, KvCacheIsLayersTimesContextTimesKAndVInF16) {
  // 32 layers x 2048 positions x 32 heads x (128 + 128) x 2 bytes = 1 GiB
  const MemoryEstimate e = estimateModelMemory(llama7b(), 2048);
  EXPECT_EQ(e.weights, 3800ull << 20);
  EXPECT_EQ(e.context, 2048u);
  EXPECT_EQ(e.kv_cache, 1ull << 30);
  EXPECT_EQ(e.total(), (3800ull << 20) + (1ull << 30));
}

TEST(ModelMemoryTest, ContextZeroMeansTheModelsOwnAndGroupedQueryAttentionShrinksTheCache) {
  GgufMetadata g = llama7b();
  EXPECT_EQ(estimateModelMemory(g, 0).context, 4096u);
  g.head_count_kv = 8;  // 4 query heads share each KV head
  EXPECT_EQ(estimateModelMemory(g, 2048).kv_cache, 256ull << 20);
  g.key_length = 64;
  g.value_length = 64;
  EXPECT_EQ(estimateModelMemory(g, 2048).kv_cache, 128ull << 20);
}

TEST(ModelMemoryTest, HeaderWithoutAttentionCountsWeightsOnly) {
  GgufMetadata g;
  g.tensor_bytes = 1000;
  EXPECT_EQ(estimateModelMemory(g, 2048).total(), 1000u);
}

TEST(ModelMemoryTest, CorruptHugeHeaderSaturatesInsteadOfWrappingSmall) {
  GgufMetadata g = llama7b();
  g.block_count = g.head_count_kv = g.key_length = g.value_length = uint64_t(1) << 40;
  EXPECT_GE(estimateModelMemory(g, 1 << 24).kv_cache, UINT64_MAX / 4);
}

TEST(ModelMemoryTest, EstimatesTheRealDemoModel) {
  if (!test::haveRealLlamaServer()) GTEST_SKIP() << "needs the demo model";
  auto g = readGgufMetadata(test::demoModel());
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_GT(g->block_count, 0u);
  EXPECT_GT(g->head_count, 0u);
  EXPECT_GT(g->tensor_bytes, g->file_size / 2);
  EXPECT_LE(g->tensor_bytes, g->file_size);
  EXPECT_GT(estimateModelMemory(*g, 2048).kv_cache, 0u);
}

TEST(MemoryBudgetTest, ParsesBytesUnitsAndShares) {
  EXPECT_EQ(parseMemoryBudget("17179869184")->bytes, 17179869184u);
  EXPECT_EQ(parseMemoryBudget("16GiB")->bytes, 16ull << 30);
  EXPECT_EQ(parseMemoryBudget("16G")->bytes, 16ull << 30);
  EXPECT_EQ(parseMemoryBudget("512MiB")->bytes, 512ull << 20);
  EXPECT_EQ(parseMemoryBudget("1.5GiB")->bytes, 3ull << 29);
  EXPECT_DOUBLE_EQ(parseMemoryBudget("80%")->share, 0.8);
  EXPECT_EQ(parseMemoryBudget("50%")->resolve(8ull << 30), 4ull << 30);
}

TEST(MemoryBudgetTest, RejectsWhatIsNoSize) {
  for (const char* bad : {"", "lots", "16 GiB", "16GB", "-1G", "0", "0%", "%", "1e30"})
    EXPECT_FALSE(parseMemoryBudget(bad).ok()) << bad;
  EXPECT_TRUE(memContains(parseMemoryBudget("120%").error().message, "more than all of the RAM"));
  EXPECT_TRUE(memContains(parseMemoryBudget("16GB").error().message, "write bytes (17179869184, 16GiB, 512MiB) or a share of RAM (80%)"));
}

class BudgetCheckTest : public ::testing::Test {
 protected:
  BudgetCheckTest() {
    for (const char* n : {"a", "b"}) {
      ModelConfig m;
      m.name = n;
      m.ctx_size = 2048;
      config_.models.push_back(m);
      metas_[n] = llama7b();  // 3800 MiB + 1 GiB each
    }
  }
  NodeConfig config_;
  std::map<std::string, GgufMetadata> metas_;
};

TEST_F(BudgetCheckTest, NoBudgetAcceptsAnything) { EXPECT_TRUE(checkMemoryBudget(config_, metas_, 1).ok()); }

TEST_F(BudgetCheckTest, BudgetHoldingAllModelsIsAccepted) {
  config_.node.memory_budget.bytes = 10ull << 30;
  EXPECT_TRUE(checkMemoryBudget(config_, metas_, 0).ok());
}

TEST_F(BudgetCheckTest, ModelThatCannotFitAloneIsRefusedNamingItsEstimate) {
  config_.node.memory_budget.bytes = 4ull << 30;
  const auto s = checkMemoryBudget(config_, metas_, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(memContains(s.error().message, "models[0] 'a' needs about 4.7 GiB (weights 3.7 GiB + KV cache 1.0 GiB for "
                                          "2048 positions), more than node.memory_budget (4.0 GiB) alone: lower its ctx_size"));
}

TEST_F(BudgetCheckTest, ModelsThatFitAloneButNotTogetherAreRefused) {
  config_.node.memory_budget.share = 0.5;  // of 16 GiB: 8 GiB, and the two need 9.4
  const auto s = checkMemoryBudget(config_, metas_, 16ull << 30);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(memContains(s.error().message, "the models loaded from the start need about 9.4 GiB together (a 4.7 GiB, "
                                          "b 4.7 GiB), more than node.memory_budget (8.0 GiB, 50% of 16.0 GiB): set load: on_demand"));
}

TEST_F(BudgetCheckTest, ModelsLoadedOnDemandNeedOnlyFitAlone) {
  config_.node.memory_budget.share = 0.5;
  config_.models[1].on_demand = true;
  EXPECT_TRUE(checkMemoryBudget(config_, metas_, 16ull << 30).ok());
}

}  // namespace
}  // namespace qmesh
