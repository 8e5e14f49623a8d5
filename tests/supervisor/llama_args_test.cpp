// The llama-server command line (supervisor/llama_args.h): every flag decided in one place.
#include "supervisor/llama_args.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

namespace qmesh {
namespace {

using Args = std::vector<std::string>;

ModelConfig model() {
  ModelConfig m;
  m.name = "qwen2.5-0.5b";
  m.gguf = "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf";
  m.ctx_size = 4096;
  m.parallel = 2;
  m.threads = 0;
  m.gpu_layers = 0;
  m.embeddings = false;
  return m;
}

// The value after `flag`, if the flag is present.
std::optional<std::string> valueOf(const Args& args, const std::string& flag) {
  auto it = std::find(args.begin(), args.end(), flag);
  if (it == args.end() || it + 1 == args.end()) return std::nullopt;
  return *(it + 1);
}
bool has(const Args& args, const std::string& flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}
long countOf(const Args& args, const std::string& flag) {
  return std::count(args.begin(), args.end(), flag);
}

const std::filesystem::path kBinary = "/opt/qmesh/llama-server";

TEST(LlamaArgsTest, StartsWithTheBinary) {
  const Args args = buildLlamaServerArgs(kBinary, model(), 41000);
  ASSERT_FALSE(args.empty());
  EXPECT_EQ(args[0], "/opt/qmesh/llama-server");
}

TEST(LlamaArgsTest, BindsLoopbackOnTheGivenPort) {
  const Args args = buildLlamaServerArgs(kBinary, model(), 41000);
  EXPECT_EQ(valueOf(args, "--host"), "127.0.0.1");
  EXPECT_EQ(valueOf(args, "--port"), "41000");
  EXPECT_EQ(countOf(args, "--host"), 1);
  EXPECT_EQ(countOf(args, "--port"), 1);
}

TEST(LlamaArgsTest, AliasIsTheModelNameAndModelIsTheGguf) {
  const Args args = buildLlamaServerArgs(kBinary, model(), 41000);
  EXPECT_EQ(valueOf(args, "--alias"), "qwen2.5-0.5b");
  EXPECT_EQ(valueOf(args, "--model"), "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf");
}

TEST(LlamaArgsTest, PassesContextParallelAndGpuLayers) {
  ModelConfig m = model();
  m.gpu_layers = 99;
  const Args args = buildLlamaServerArgs(kBinary, m, 41000);
  EXPECT_EQ(valueOf(args, "--ctx-size"), "4096");
  EXPECT_EQ(valueOf(args, "--parallel"), "2");
  EXPECT_EQ(valueOf(args, "--n-gpu-layers"), "99");
}

TEST(LlamaArgsTest, ContextZeroMeansTheModelsOwnAndIsPassedThrough) {
  ModelConfig m = model();
  m.ctx_size = 0;
  EXPECT_EQ(valueOf(buildLlamaServerArgs(kBinary, m, 41000), "--ctx-size"), "0");
}

TEST(LlamaArgsTest, ThreadsOnlyWhenPositive) {
  ModelConfig m = model();
  m.threads = 0;
  EXPECT_FALSE(has(buildLlamaServerArgs(kBinary, m, 41000), "--threads"));
  m.threads = 8;
  EXPECT_EQ(valueOf(buildLlamaServerArgs(kBinary, m, 41000), "--threads"), "8");
}

TEST(LlamaArgsTest, EmbeddingsOnlyWhenSet) {
  ModelConfig m = model();
  EXPECT_FALSE(has(buildLlamaServerArgs(kBinary, m, 41000), "--embeddings"));
  m.embeddings = true;
  EXPECT_EQ(countOf(buildLlamaServerArgs(kBinary, m, 41000), "--embeddings"), 1);
}

TEST(LlamaArgsTest, AlwaysEnablesMetricsAndDisablesTheWebUi) {
  const Args args = buildLlamaServerArgs(kBinary, model(), 41000);
  EXPECT_TRUE(has(args, "--metrics"));
  EXPECT_TRUE(has(args, "--no-ui"));
}

TEST(LlamaArgsTest, ExtraArgsAreAppendedLastInOrder) {
  ModelConfig m = model();
  m.threads = 4;
  m.embeddings = true;
  m.extra_args = {"--flash-attn", "--temp", "0.2", "--port", "1"};
  const Args args = buildLlamaServerArgs(kBinary, m, 41000);
  ASSERT_GE(args.size(), m.extra_args.size());
  const Args tail(args.end() - static_cast<long>(m.extra_args.size()), args.end());
  EXPECT_EQ(tail, m.extra_args);
  // Last on the command line, so an operator's override wins where llama-server takes the last.
  EXPECT_EQ(valueOf(args, "--port"), "41000");
  EXPECT_EQ(countOf(args, "--port"), 2);
}

TEST(LlamaArgsTest, ExactCommandLineForATypicalModel) {
  ModelConfig m = model();
  m.threads = 6;
  m.embeddings = true;
  m.extra_args = {"--flash-attn"};
  const Args expected = {
      "/opt/qmesh/llama-server",
      "--model", "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf",
      "--alias", "qwen2.5-0.5b",
      "--host", "127.0.0.1",
      "--port", "41000",
      "--ctx-size", "4096",
      "--parallel", "2",
      "--n-gpu-layers", "0",
      "--metrics",
      "--no-ui",
      "--threads", "6",
      "--embeddings",
      "--pooling", "mean",
      "--flash-attn",
  };
  EXPECT_EQ(buildLlamaServerArgs(kBinary, m, 41000), expected);
}

TEST(LlamaArgsTest, PathsWithSpacesStayOneArgument) {
  ModelConfig m = model();
  m.gguf = "/home/a user/My Models/q.gguf";
  const Args args = buildLlamaServerArgs("/opt/q mesh/llama-server", m, 41000);
  EXPECT_EQ(args[0], "/opt/q mesh/llama-server");
  EXPECT_EQ(valueOf(args, "--model"), "/home/a user/My Models/q.gguf");
}

}  // namespace
}  // namespace qmesh
