// The console in a real browser (Debian's chromium driven by playwright-core,
// tests/integration/node/console_browser.mjs): the config/mesh demo's three nodes seen from
// a's console, live updates without reload, the restart, cancel and invite buttons, the load
// and unload buttons of on-demand models, and the login with admin keys. Screenshots land in
// <build>/console-screenshots/.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "tests/integration/mesh_fixture.h"
#include "tests/integration/node_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/test_process.h"

using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

const std::filesystem::path kChromium = "/usr/bin/chromium";

std::filesystem::path nodeDir() { return sourceDir() / "tests" / "integration" / "node"; }

std::string skipReason() {
  if (!std::filesystem::exists(kChromium)) return "Debian's chromium is not installed (scripts/setup.sh installs it)";
  if (!std::filesystem::exists(nodeDir() / "node_modules" / "playwright-core"))
    return "playwright-core is not installed: run `npm ci` in " + nodeDir().string();
  if (!haveRealLlamaServer()) return "llama-server or the demo model is not built yet";
  return "";
}

CommandResult runBrowser(std::map<std::string, std::string> env) {
  env["QMESH_ARTIFACTS"] = (buildDir() / "console-screenshots").string();
  env["QMESH_CHROMIUM"] = kChromium.string();
  return runCommand({"/usr/bin/env", "node", (nodeDir() / "console_browser.mjs").string()}, seconds(200), env);
}

bool servesAll(MeshTestNode& n, const std::vector<std::string>& models) {
  auto j = json::parse(httpGet(n.routerUrl("/v1/models")).body, nullptr, false);
  if (!j.is_object() || !j.contains("data")) return false;
  int ready = 0;
  for (const auto& m : j["data"])
    if (std::find(models.begin(), models.end(), m.value("id", "")) != models.end() &&
        m["qmesh"].value("ready_workers", 0) > 0)
      ++ready;
  return ready == static_cast<int>(models.size());
}

}  // namespace

TEST(ConsoleBrowser, ShowsTheMeshLiveRestartsAWorkerCancelsAStreamAndSeesAKilledNodeDie) {
  if (auto why = skipReason(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  // a's slots hold 4096 tokens each: a stream there runs for seconds, long enough to cancel.
  MeshTestNode a(dir.path(), MeshNodeSpec{"a", "demo-a", {}, dir / "a.keys", {}, "", 8192});
  a.start();
  ASSERT_TRUE(waitUntil([&] { return a.mesh().has_value(); }, seconds(60))) << a.log();
  for (const char* n : {"b.keys", "c.keys"})
    std::filesystem::copy_file(dir / "a.keys", dir / n, std::filesystem::copy_options::overwrite_existing);
  MeshTestNode b(dir.path(), MeshNodeSpec{"b", "demo-b", {a.gossipAddress()}, dir / "b.keys", {}});
  MeshTestNode c(dir.path(), MeshNodeSpec{"c", "demo-c", {a.gossipAddress()}, dir / "c.keys", {}});
  b.start();
  c.start();
  ASSERT_TRUE(waitForMeshState({&a, &b, &c}, {"a", "b", "c"}, "alive", seconds(60)))
      << "--- a:\n" << a.log() << "--- b:\n" << b.log() << "--- c:\n" << c.log();
  ASSERT_TRUE(waitUntil([&] { return servesAll(a, {"demo-a", "demo-b", "demo-c"}); }, seconds(60)))
      << "--- a:\n" << a.log() << "--- b:\n" << b.log() << "--- c:\n" << c.log();

  // b's whole node: the supervisor and its children (router, llama-server).
  std::string pids = std::to_string(b.supervisorPid());
  for (pid_t p : childrenOf(b.supervisorPid())) pids += "," + std::to_string(p);
  const auto r = runBrowser({{"QMESH_SCENARIO", "mesh"},
                             {"QMESH_CONSOLE_URL", a.routerUrl("/console")},
                             {"QMESH_KILL_PIDS", pids},
                             {"QMESH_STREAM_MODEL", "demo-a"},
                             {"QMESH_OTHER_ROUTER", b.routerUrl()},
                             {"QMESH_LLAMA_PORT", std::to_string(a.llamaPort("demo-a"))}});
  std::cout << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output << "\na's log:\n" << a.log();
  b.killAll();  // in case the script failed before it did
}

TEST(ConsoleBrowser, WithAdminKeysAsksForAKeyAndRefusesAClientKey) {
  if (auto why = skipReason(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  MeshTestNode k(dir.path(), MeshNodeSpec{"k", "demo", {}, dir / "k.keys", {},
                                          "  api_keys: [client-key-123]\n  admin_keys: [admin-key-123]\n"});
  k.start();
  ASSERT_TRUE(waitUntil([&] { return httpGet(k.routerUrl("/health")).status == 200; }, seconds(60))) << k.log();
  const auto r = runBrowser({{"QMESH_SCENARIO", "keys"},
                             {"QMESH_CONSOLE_URL", k.routerUrl("/console")},
                             {"QMESH_ADMIN_KEY", "admin-key-123"},
                             {"QMESH_CLIENT_KEY", "client-key-123"}});
  std::cout << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output << "\nk's log:\n" << k.log();
}

TEST(ConsoleBrowser, LoadsAndUnloadsOnDemandModelsFromThePageAndShowsTheBudgetRefusal) {
  if (auto why = skipReason(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  const uint16_t control = freeLoopbackPort(), routerPort = freeLoopbackPort();
  // Two on-demand demo models of about 18 MiB each; 30 MiB fits one of them, not both.
  std::ostringstream y;
  y << "node:\n  name: o\n  data_dir: " << (dir / "data").string() << "\n  control: 127.0.0.1:" << control
    << "\n  memory_budget: 30MiB\nsupervisor:\n" << fastSupervisorSettings()
    << "router:\n  listen: 127.0.0.1:" << routerPort << "\nmodels:\n";
  for (const char* m : {"demo", "demo-2"})
    y << "  - name: " << m << "\n    gguf: builtin:demo\n    load: on_demand\n    threads: 1\n"
      << "    ctx_size: 256\n    parallel: 1\n";
  const auto config = dir.write("node.yaml", y.str());
  TestProcess node({supervisorBinary().string(), "start", "--config", config.string()}, dir / "node.log");
  const std::string base = "http://127.0.0.1:" + std::to_string(routerPort);
  ASSERT_TRUE(waitUntil([&] { return httpGet(base + "/api/status").status == 200; }, seconds(60))) << node.output();
  pid_t routerPid = 0;
  for (pid_t p : childrenOf(node.pid())) {
    std::ifstream comm("/proc/" + std::to_string(p) + "/comm");
    std::string name;
    if (comm >> name && name == "qmesh-router") routerPid = p;
  }
  ASSERT_NE(routerPid, 0) << node.output();
  const auto r = runBrowser({{"QMESH_SCENARIO", "ondemand"},
                             {"QMESH_CONSOLE_URL", base + "/console"},
                             {"QMESH_CONTROL_URL", "http://127.0.0.1:" + std::to_string(control)},
                             {"QMESH_CONTROL_TOKEN_FILE", (dir / "data" / "control.token").string()},
                             {"QMESH_ROUTER_PID", std::to_string(routerPid)}});
  std::cout << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output << "\nthe node's log:\n" << node.output();
  node.signal(SIGTERM);
  EXPECT_TRUE(node.waitExit(seconds(30)).has_value());
}
