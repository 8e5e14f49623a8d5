// models[].gguf as a URL with models[].sha256 (common/node_config_models.cpp): where the
// download goes, and every mistake reported with file:line, key path and the fix.
#include <gtest/gtest.h>

#include "common/node_config.h"
#include "tests/common/config_test_util.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;
using test::Contains;
using test::yaml;

constexpr const char* kModelsFile = "/cfg/node.yaml";
const std::string kDigest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

// node.data_dir fixed, one model whose gguf: and sha256: lines are given (gguf on line 5).
std::string modelYaml(const std::string& gguf, const std::string& sha = "") {
  std::string out = yaml({"node:", "  data_dir: /var/lib/q", "models:", "  - name: m", "    gguf: " + gguf});
  if (!sha.empty()) out += "    sha256: " + sha + "\n";
  return out;
}

std::string modelParseError(const std::string& text) {
  auto r = parseNodeConfig(text, kModelsFile);
  if (r) {
    ADD_FAILURE() << "expected an error, the config was accepted:\n" << text;
    return "";
  }
  return r.error().message;
}

ModelConfig parseModel(const std::string& text) {
  auto r = parseNodeConfig(text, kModelsFile);
  if (!r) ADD_FAILURE() << "unexpected error:\n" << r.error().message;
  return r && !r->models.empty() ? r->models[0] : ModelConfig{};
}

TEST(ModelSourceConfigTest, UrlIsDownloadedIntoDataDirModelsNamedByDigest) {
  const ModelConfig m = parseModel(modelYaml("https://models.example/tiny.gguf", kDigest));
  EXPECT_EQ(m.url, "https://models.example/tiny.gguf");
  EXPECT_EQ(m.sha256, kDigest);
  EXPECT_EQ(m.gguf, fs::path("/var/lib/q/models/sha256-" + kDigest + ".gguf"));
}

TEST(ModelSourceConfigTest, AcceptsHttpAndFileUrlsAndPrefixedUppercaseDigest) {
  std::string upper = kDigest;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(parseModel(modelYaml("http://10.0.0.2:8000/m.gguf", "sha256:" + upper)).sha256, kDigest);
  EXPECT_EQ(parseModel(modelYaml("file:///srv/models/m.gguf", kDigest)).url, "file:///srv/models/m.gguf");
}

TEST(ModelSourceConfigTest, LocalPathHasNoUrl) {
  const ModelConfig m = parseModel(modelYaml("models/m.gguf"));
  EXPECT_TRUE(m.url.empty());
  EXPECT_EQ(m.gguf, fs::path("/cfg/models/m.gguf"));
}

TEST(ModelSourceConfigTest, UrlWithoutSha256IsAnErrorSayingWhereToGetIt) {
  const std::string e = modelParseError(modelYaml("https://models.example/tiny.gguf"));
  EXPECT_TRUE(Contains(e, "/cfg/node.yaml:5: models[0].sha256: a model downloaded from a URL needs sha256"));
  EXPECT_TRUE(Contains(e, "sha256sum FILE"));
}

TEST(ModelSourceConfigTest, RejectsDigestThatIsNot64HexDigits) {
  EXPECT_TRUE(Contains(modelParseError(modelYaml("https://h/m.gguf", kDigest.substr(1))),
                       ":6: models[0].sha256: '" + kDigest.substr(1) + "' is not a SHA-256 digest (64 hex digits"));
  EXPECT_TRUE(Contains(modelParseError(modelYaml("https://h/m.gguf", "z" + kDigest.substr(1))), "is not a SHA-256 digest"));
}

TEST(ModelSourceConfigTest, RejectsSha256OnALocalPath) {
  EXPECT_TRUE(Contains(modelParseError(modelYaml("m.gguf", kDigest)),
                       ":6: models[0].sha256: only a downloaded model (gguf: https://, http:// or file:// URL)"));
}

TEST(ModelSourceConfigTest, RejectsUnsupportedScheme) {
  EXPECT_TRUE(Contains(modelParseError(modelYaml("ftp://h/m.gguf", kDigest)),
                       ":5: models[0].gguf: 'ftp://h/m.gguf' uses ftp://: only https://, http:// and file:// URLs are downloaded"));
}

TEST(ModelSourceConfigTest, RejectsUrlWithoutHostOrWithASpace) {
  EXPECT_TRUE(Contains(modelParseError(modelYaml("https:///m.gguf", kDigest)), "has no host: write it as https://HOST/PATH"));
  EXPECT_TRUE(Contains(modelParseError(modelYaml("\"https://h/my model.gguf\"", kDigest)), "percent-encode it"));
}

TEST(ModelSourceConfigTest, RejectsRelativeFileUrl) {
  EXPECT_TRUE(Contains(modelParseError(modelYaml("file://m.gguf", kDigest)), "a file:// URL needs an absolute path"));
}

}  // namespace
}  // namespace qmesh

namespace qmesh {
namespace {

TEST(MemoryBudgetConfigTest, ReadsBytesOrShareAndRejectsOtherTextWithLine) {
  auto r = parseNodeConfig(yaml({"node:", "  data_dir: /q", "  memory_budget: 80%"}), kModelsFile);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_DOUBLE_EQ(r->node.memory_budget.share, 0.8);
  r = parseNodeConfig(yaml({"node:", "  data_dir: /q", "  memory_budget: 17179869184"}), kModelsFile);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->node.memory_budget.bytes, 17179869184u);
  EXPECT_FALSE(parseNodeConfig(yaml({"node:", "  data_dir: /q"}), kModelsFile)->node.memory_budget.set());
  EXPECT_TRUE(Contains(modelParseError(yaml({"node:", "  data_dir: /q", "  memory_budget: 16GB"})),
                       "/cfg/node.yaml:3: node.memory_budget: '16GB' is not a memory size: write bytes"));
}

}  // namespace
}  // namespace qmesh

namespace qmesh {
namespace {

TEST(ModelLoadConfigTest, LoadIsAlwaysByDefaultOrOnDemandAndNothingElse) {
  const std::string base = yaml({"node:", "  data_dir: /q", "models:", "  - name: m", "    gguf: m.gguf"});
  auto r = parseNodeConfig(base, kModelsFile);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->models[0].on_demand);
  r = parseNodeConfig(base + "    load: on_demand\n", kModelsFile);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->models[0].on_demand);
  EXPECT_TRUE(Contains(modelParseError(base + "    load: lazy\n"), "/cfg/node.yaml:6: models[0].load: 'lazy' is not always or on_demand"));
}

}  // namespace
}  // namespace qmesh

namespace qmesh {
namespace {

TEST(ModelLoadConfigTest, IdleUnloadIsOffByDefaultAndNeedsTheRouterWhichKeepsTheClock) {
  const std::string base = yaml({"node:", "  data_dir: /q", "models:", "  - name: m", "    gguf: m.gguf"});
  auto r = parseNodeConfig(base, kModelsFile);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->models[0].idle_unload.count(), 0);
  r = parseNodeConfig(base + "    idle_unload: 5m\n", kModelsFile);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->models[0].idle_unload, std::chrono::minutes(5));
  EXPECT_TRUE(Contains(modelParseError(base + "    idle_unload: 5m\nrouter:\n  enabled: false\n"),
                       "/cfg/node.yaml:6: models[0].idle_unload: needs router.enabled: true"));
  EXPECT_FALSE(parseNodeConfig(base + "    idle_unload: soon\n", kModelsFile).ok());
}

}  // namespace
}  // namespace qmesh
