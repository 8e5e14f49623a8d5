// The console in a real browser (Debian's chromium driven by playwright-core,
// tests/integration/node/console_browser.mjs): the config/mesh demo's three nodes seen from
// a's console, live updates without reload, the restart and cancel buttons, and the login
// with admin keys. Screenshots land in <build>/console-screenshots/.
#include <gtest/gtest.h>

#include <csignal>

#include "tests/integration/mesh_fixture.h"
#include "tests/integration/node_fixture.h"
#include "tests/support/http_client.h"

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
  ASSERT_TRUE(waitForMeshState({&a, &b, &c}, {"a", "b", "c"}, "alive", seconds(60))) << a.log();
  ASSERT_TRUE(waitUntil([&] { return servesAll(a, {"demo-a", "demo-b", "demo-c"}); }, seconds(60))) << a.log();

  // b's whole node: the supervisor and its children (router, llama-server).
  std::string pids = std::to_string(b.supervisorPid());
  for (pid_t p : childrenOf(b.supervisorPid())) pids += "," + std::to_string(p);
  const auto r = runBrowser({{"QMESH_SCENARIO", "mesh"},
                             {"QMESH_CONSOLE_URL", a.routerUrl("/console")},
                             {"QMESH_KILL_PIDS", pids},
                             {"QMESH_STREAM_MODEL", "demo-a"},
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
