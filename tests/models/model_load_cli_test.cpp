// models[].load: on_demand with the real llama-server and the demo model: the node starts it
// unloaded, `qmesh-supervisor load` brings it up and it answers, `unload` ends the process
// and /status says so, and node.memory_budget refuses a load that does not fit beside the
// loaded models.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/http_client.h"
#include "tests/support/test_env.h"
#include "tests/support/test_process.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;


class ModelLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::haveRealLlamaServer()) GTEST_SKIP() << "needs the packaged llama-server and demo model";
  }
  // Two demo models, both on demand; `budget` fits one of them (each is about 18 MiB).
  void startNode(const std::string& budget) {
    controlPort_ = test::freeLoopbackPort();
    std::ostringstream y;
    y << "node:\n  name: load-test\n  data_dir: " << (dir_ / "data").string() << "\n  control: 127.0.0.1:"
      << controlPort_ << "\n  memory_budget: " << budget << "\nrouter:\n  enabled: false\nmodels:\n";
    for (const char* n : {"a", "b"})
      y << "  - name: " << n << "\n    gguf: builtin:demo\n    load: on_demand\n    threads: 1\n"
        << "    ctx_size: 256\n    parallel: 1\n";
    config_ = dir_.write("node.yaml", y.str());
    node_ = std::make_unique<test::TestProcess>(
        std::vector<std::string>{test::supervisorBinary().string(), "start", "--config", config_.string()}, dir_ / "node.log");
    ASSERT_TRUE(test::waitUntil([&] { return !modelState("a").empty(); }, 30s)) << node_->output();
  }
  json model(const std::string& name) {
    auto r = test::httpGet("http://127.0.0.1:" + std::to_string(controlPort_) + "/status", 2s);
    const auto j = json::parse(r.body, nullptr, false);
    if (!j.is_object()) return {};
    for (const auto& m : j["models"])
      if (m.value("name", "") == name) return m;
    return {};
  }
  std::string modelState(const std::string& name) {
    const json m = model(name);
    return m.is_object() ? m.value("state", "") : "";
  }
  test::CommandResult cli(const std::string& action, const std::string& name) {
    return test::runCommand({test::supervisorBinary().string(), action, "--config", config_.string(), name}, 30s);
  }
  void TearDown() override {
    if (!node_) return;
    node_->signal(SIGTERM);
    EXPECT_TRUE(node_->waitExit(30s).has_value());
  }

  test::TempDir dir_;
  fs::path config_;
  uint16_t controlPort_ = 0;
  std::unique_ptr<test::TestProcess> node_;
};

TEST_F(ModelLoadTest, OnDemandModelStartsUnloadedLoadsOnCommandAndUnloadEndsTheProcess) {
  startNode("1GiB");
  EXPECT_EQ(modelState("a"), "unloaded");
  EXPECT_TRUE(model("a")["pid"].is_null());

  const auto t0 = std::chrono::steady_clock::now();
  auto r = cli("load", "a");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(test::waitUntil([&] { return modelState("a") == "ready"; }, 60s)) << node_->output();
  const double loadSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ figure ] load command to ready: " << loadSeconds << " s\n";
  const int pid = model("a")["pid"].get<int>();
  const auto port = model("a")["port"].get<int>();
  EXPECT_EQ(test::httpGet("http://127.0.0.1:" + std::to_string(port) + "/health", 2s).status, 200);

  r = cli("unload", "a");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(test::waitUntil([&] { return !test::processExists(pid); }, 20s)) << "pid " << pid << " still runs";
  EXPECT_EQ(modelState("a"), "unloaded");
  EXPECT_TRUE(model("a")["pid"].is_null());
  EXPECT_EQ(model("a").value("restarts", -1), 0);

  r = cli("unload", "a");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("already unloaded"), std::string::npos) << r.output;
}

TEST_F(ModelLoadTest, LoadThatDoesNotFitBesideTheLoadedModelsIsRefused) {
  startNode("30MiB");  // one demo model (about 18 MiB), not two
  ASSERT_EQ(cli("load", "a").exit_code, 0);
  auto r = cli("load", "b");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("'b' needs about"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unload one first"), std::string::npos) << r.output;
  EXPECT_EQ(modelState("b"), "unloaded");

  ASSERT_EQ(cli("unload", "a").exit_code, 0);
  r = cli("load", "b");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(test::waitUntil([&] { return modelState("b") == "ready"; }, 60s)) << node_->output();
  EXPECT_EQ(cli("load", "nope").exit_code, 2);
}

}  // namespace
}  // namespace qmesh
