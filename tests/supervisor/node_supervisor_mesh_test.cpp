// The supervisor's side of the mesh: the router child gets the invite token in its
// environment (never argv, never another child's environment), and POST
// /mesh/reload-keys on the control API turns into a SIGHUP the router can survive. The
// router here is a small Python stand-in that answers /health and records its argv and
// every SIGHUP, driven by a real NodeSupervisor and ControlApi on an io_context thread.
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "supervisor/control_api.h"
#include "supervisor/node_supervisor.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string readText(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const std::string kControlToken(64, '7');

bool havePython() { return std::system("command -v python3 >/dev/null 2>&1") == 0; }

// Sleeps `delay` BEFORE installing its SIGHUP handler: a SIGHUP sent while it starts kills
// it (SIGHUP's default action), as it would kill a router that has not set up its handler.
fs::path writeFakeRouter(const test::TempDir& dir, uint16_t port, double delay) {
  const fs::path script = dir.write(
      "fake-router.py",
      "#!/usr/bin/env python3\n"
      "import http.server, signal, sys, time\n"
      "import os\n"
      "open('" + (dir / "argv").string() + "', 'w').write('\\n'.join(sys.argv[1:]))\n"
      "open('" + (dir / "join").string() + "', 'w').write(os.environ.get('QMESH_JOIN', 'unset'))\n"
      "time.sleep(" + std::to_string(delay) + ")\n"
      "signal.signal(signal.SIGHUP, lambda *a: open('" + (dir / "hups").string() +
      "', 'a').write('hup\\n'))\n"
      "class H(http.server.BaseHTTPRequestHandler):\n"
      "    def do_GET(self):\n"
      "        self.send_response(200)\n"
      "        self.send_header('Content-Length', '2')\n"
      "        self.end_headers()\n"
      "        self.wfile.write(b'{}')\n"
      "    def log_message(self, *args):\n"
      "        pass\n"
      "http.server.HTTPServer(('127.0.0.1', " + std::to_string(port) + "), H).serve_forever()\n");
  fs::permissions(script, fs::perms::owner_all);
  return script;
}

NodeConfig nodeConfig(const test::TempDir& dir) {
  NodeConfig c;
  c.file = dir / "node.yaml";
  c.node.name = "mesh-test";
  c.node.data_dir = dir / "data";
  c.node.control = HostPort{"127.0.0.1", test::freeLoopbackPort()};
  c.router.listen = HostPort{"127.0.0.1", test::freeLoopbackPort()};
  c.supervisor.health.interval = 100ms;
  c.supervisor.stop_grace = 1s;
  return c;
}

// A NodeSupervisor with its control API, running on its own thread until destroyed.
class RunningSupervisor {
 public:
  RunningSupervisor(const NodeConfig& c, NodeBinaries b)
      : node_(io_, c, std::move(b), {}), api_(io_, node_, [] {}, kControlToken), control_(c.node.control) {
    EXPECT_TRUE(api_.listen(c.node.control));
    node_.start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunningSupervisor() {
    boost::asio::post(io_, [this] { node_.stop([this] { io_.stop(); }); });
    thread_.join();
  }
  test::HttpResponse post(const std::string& path) {
    return test::httpRequest("POST", "http://" + control_.str() + path, "",
                             {{"Authorization", "Bearer " + kControlToken}}, 5s);
  }
  nlohmann::json router() {
    const auto r = test::httpGet("http://" + control_.str() + "/status", 5s);
    const auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_discarded() ? nlohmann::json() : j["router"];
  }
  bool waitForRouterState(const std::string& state) {
    return test::waitUntil([&] { return router().value("state", "") == state; }, 30s);
  }

 private:
  boost::asio::io_context io_;
  NodeSupervisor node_;
  ControlApi api_;
  HostPort control_;
  std::thread thread_;
};

TEST(RouterArgvTest, IsTheConfigAndNeverTheJoinToken) {
  NodeConfig c;
  c.file = "/etc/qmesh/node.yaml";
  NodeBinaries b;
  b.router = "/opt/qmesh/qmesh-router";
  b.router_env = {{"QMESH_JOIN", "qmesh1.abc"}};
  EXPECT_EQ(routerArgv(b, c),
            (std::vector<std::string>{"/opt/qmesh/qmesh-router", "--config", "/etc/qmesh/node.yaml"}));
}

TEST(ReloadKeysTest, WithoutARouterChildIsAConflict) {
  test::TempDir dir;
  NodeConfig c = nodeConfig(dir);
  c.router.enabled = false;
  RunningSupervisor s(c, NodeBinaries{});
  const auto r = s.post("/mesh/reload-keys");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("no router child is running"), std::string::npos) << r.body;
}

TEST(ReloadKeysTest, ReadyRouterGetsSighupAndKeepsRunning) {
  if (!havePython()) GTEST_SKIP() << "python3 not found";
  test::TempDir dir;
  const NodeConfig c = nodeConfig(dir);
  NodeBinaries b;
  b.router = writeFakeRouter(dir, c.router.listen.port, 0);
  b.router_env = {{"QMESH_JOIN", "qmesh1.token"}};
  RunningSupervisor s(c, b);
  ASSERT_TRUE(s.waitForRouterState("ready"));
  EXPECT_EQ(readText(dir / "argv"), "--config\n" + c.file.string());
  EXPECT_EQ(readText(dir / "join"), "qmesh1.token") << "the router gets the token in its environment";

  const auto r = s.post("/mesh/reload-keys");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"signalled":true})");
  EXPECT_TRUE(test::waitUntil([&] { return readText(dir / "hups") == "hup\n"; }, 10s));
  EXPECT_EQ(s.router()["restarts"], 0) << "the router died of the SIGHUP";
}

TEST(ReloadKeysTest, RouterStillStartingIsSignalledOnceReady) {
  if (!havePython()) GTEST_SKIP() << "python3 not found";
  test::TempDir dir;
  const NodeConfig c = nodeConfig(dir);
  NodeBinaries b;
  b.router = writeFakeRouter(dir, c.router.listen.port, 1.0);
  RunningSupervisor s(c, b);
  ASSERT_TRUE(test::waitUntil([&] { return fs::exists(dir / "argv"); }, 10s));
  ASSERT_EQ(s.router().value("state", ""), "starting");

  const auto r = s.post("/mesh/reload-keys");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, R"({"signalled":false,"deferred":true})");
  ASSERT_TRUE(s.waitForRouterState("ready"));
  EXPECT_TRUE(test::waitUntil([&] { return readText(dir / "hups") == "hup\n"; }, 10s));
  EXPECT_EQ(s.router()["restarts"], 0) << "SIGHUP reached the router before it was ready";
}

}  // namespace
}  // namespace qmesh
