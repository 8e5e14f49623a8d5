// Bad input to qmesh-supervisor: each gets one precise message and a documented exit code,
// and nothing is left running.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "tests/integration/node_fixture.h"
#include "tests/support/http_client.h"

namespace qmesh::test {
namespace {

using namespace std::chrono_literals;

std::string validModels() { return demoModelEntry("demo"); }

TEST(SupervisorErrors, UnknownKeyIsAConfigErrorNamingKeyAndLine) {
  TempDir dir;
  const auto file = dir.write("bad.yaml", "node:\n  name: x\nmodels:\n  - name: demo\n"
                                          "    gguf: builtin:demo\n    paralel: 4\n");
  for (const char* cmd : {"check-config", "start"}) {
    const auto r = std::string(cmd) == "start" ? runSupervisor({"start", "--config", file.string()})
                                               : runSupervisor({"check-config", file.string()});
    EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find("bad.yaml:6: models[0]: unknown key 'paralel'"), std::string::npos)
        << r.output;
  }
}

TEST(SupervisorErrors, InvalidYamlSyntaxIsAConfigError) {
  TempDir dir;
  const auto file = dir.write("bad.yaml", "node:\n  name: [unclosed\n");
  const auto r = runSupervisor({"check-config", file.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("invalid YAML"), std::string::npos) << r.output;
}

TEST(SupervisorErrors, MissingConfigFileIsAConfigError) {
  const auto r = runSupervisor({"start", "--config", "/nonexistent/node.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("/nonexistent/node.yaml: config file not found"), std::string::npos)
      << r.output;
}

TEST(SupervisorErrors, NonGgufModelIsRefusedBeforeAnythingIsSpawned) {
  TempDir dir;
  const auto fake = dir.write("fake.gguf", "this is not a model, just text");
  NodeYaml y;
  y.control_port = freeLoopbackPort();
  y.models = "  - name: demo\n    gguf: " + fake.string() + "\n";
  const auto file = dir.write("node.yaml", y.render(dir / "data"));
  const auto r = runSupervisor({"start", "--config", file.string()});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("models[0] 'demo'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not a GGUF"), std::string::npos) << r.output;
}

TEST(SupervisorErrors, MissingModelFileIsRefused) {
  TempDir dir;
  NodeYaml y;
  y.control_port = freeLoopbackPort();
  y.models = "  - name: demo\n    gguf: " + (dir / "nope.gguf").string() + "\n";
  const auto file = dir.write("node.yaml", y.render(dir / "data"));
  const auto r = runSupervisor({"check-config", file.string()});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("nope.gguf"), std::string::npos) << r.output;
}

TEST(SupervisorErrors, MissingLlamaServerBinaryNamesTheFix) {
  TempDir dir;
  NodeYaml y;
  y.control_port = freeLoopbackPort();
  y.node_extra = "  llama_server: " + (dir / "no-such-binary").string() + "\n";
  y.models = validModels();
  const auto file = dir.write("node.yaml", y.render(dir / "data"));
  const auto r = runSupervisor({"start", "--config", file.string()});
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("llama-server not found at " + (dir / "no-such-binary").string()),
            std::string::npos) << r.output;
}

TEST(SupervisorErrors, BusyFixedModelPortIsAClearError) {
  LoopbackListener held;
  TempDir dir;
  NodeYaml y;
  y.control_port = freeLoopbackPort();
  y.models = validModels() + "    port: " + std::to_string(held.port()) + "\n";
  const auto file = dir.write("node.yaml", y.render(dir / "data"));
  const auto r = runSupervisor({"start", "--config", file.string()});
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("models[0].port: 127.0.0.1:" + std::to_string(held.port()) +
                          " is not available"), std::string::npos) << r.output;
}

TEST(SupervisorErrors, BusyControlAddressIsAClearErrorAndSpawnsNothing) {
  LoopbackListener held;
  TempDir dir;
  NodeYaml y;
  y.control_port = held.port();
  y.models = validModels();
  const auto file = dir.write("node.yaml", y.render(dir / "data"));
  TestProcess p({supervisorBinary().string(), "start", "--config", file.string()}, dir / "out.log");
  ASSERT_TRUE(p.waitExit(30s));
  EXPECT_EQ(p.exitCode(), 4) << p.output();
  EXPECT_NE(p.output().find("node.control 127.0.0.1:" + std::to_string(held.port()) +
                            " is not available"), std::string::npos) << p.output();
  EXPECT_EQ(p.output().find("spawned"), std::string::npos) << p.output();
}

TEST(SupervisorErrors, CrashLoopingBinaryEndsFailedWhileTheSupervisorStaysUp) {
  TempDir dir;
  const auto crasher = dir.write("crash.sh", "#!/bin/sh\necho 'crashing on purpose' >&2\nexit 3\n");
  ::chmod(crasher.c_str(), 0755);
  NodeYaml y;
  y.node_extra = "  llama_server: " + crasher.string() + "\n";
  y.supervisor = "  restart:\n    backoff_initial: 20ms\n    backoff_max: 100ms\n"
                 "    max_restarts: 3\n    window: 1m\n";
  y.models = validModels();
  RunningNode node(y);
  ASSERT_TRUE(node.waitForState("demo", "failed", 30s)) << node.log();
  auto m = *node.model("demo");
  EXPECT_EQ(m["restarts"], 3);
  EXPECT_EQ(m["last_exit"], "exit code 3");
  EXPECT_TRUE(node.process().running());
  EXPECT_NE(node.log().find("crash loop"), std::string::npos);
  EXPECT_NE(node.log().find("[demo] crashing on purpose"), std::string::npos)
      << "the child's stderr should be in the supervisor log, prefixed with the model name";

  // An operator restart clears `failed` and tries again (and crash-loops again).
  const auto r = runSupervisor({"restart", "--config", node.configFile().string(), "demo"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(waitUntil([&] { return (*node.model("demo"))["restarts"].get<int>() > 3; }, 30s));
  ASSERT_TRUE(node.waitForState("demo", "failed", 30s));
}

TEST(SupervisorErrors, ChildIgnoringSigtermIsKilledAfterTheGracePeriod) {
  TempDir dir;
  const auto stubborn = dir.write(
      "stubborn.sh", "#!/bin/sh\ntrap '' TERM\necho 'ignoring SIGTERM now'\n"
                     "while true; do sleep 0.05; done\n");
  ::chmod(stubborn.c_str(), 0755);
  NodeYaml y;
  y.node_extra = "  llama_server: " + stubborn.string() + "\n";
  y.supervisor = "  stop_grace: 500ms\n";
  y.models = validModels();
  RunningNode node(y);
  ASSERT_TRUE(node.waitForState("demo", "starting", 30s)) << node.log();
  // The trap must be installed before the test signals, or the shell dies of the SIGTERM.
  ASSERT_TRUE(node.process().waitForOutput("[demo] ignoring SIGTERM now", 30s)) << node.log();
  const int child = (*node.model("demo"))["pid"];
  const auto start = std::chrono::steady_clock::now();
  node.process().signal(SIGTERM);
  ASSERT_TRUE(node.process().waitExit(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 450ms) << "SIGKILL came before the grace";
  EXPECT_EQ(node.process().exitCode(), 0);
  EXPECT_FALSE(processExists(child));
  EXPECT_NE(node.log().find("sending SIGKILL"), std::string::npos) << node.log();
}

TEST(SupervisorErrors, StatusWithNoSupervisorRunningExits5) {
  TempDir dir;
  NodeYaml y;
  y.control_port = freeLoopbackPort();
  const auto file = dir.write("node.yaml", y.render(dir / "data"));
  const auto r = runSupervisor({"status", "--config", file.string()});
  EXPECT_EQ(r.exit_code, 5) << r.output;
}

TEST(SupervisorErrors, VersionAndHelpWork) {
  const auto v = runSupervisor({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.output.find("qmesh-supervisor 0."), std::string::npos) << v.output;
  const auto h = runSupervisor({"--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.output.find("Exit codes"), std::string::npos) << h.output;
  const auto bad = runSupervisor({"frobnicate"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

}  // namespace
}  // namespace qmesh::test
