// The supervisor's side of a drain (supervisor/node_drain.h): the plan as a table, then a
// real NodeSupervisor whose router and llama-server are small Python stand-ins that answer
// /health and write down when they got SIGTERM and when they exited, so the order of a drain
// can be read from one file.
#include "supervisor/node_drain.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "supervisor/control_api.h"
#include "supervisor/node_supervisor.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(DrainPlan, WorkersStopAtTheDrainTimeoutAndTheRouterIsKilledOnlyAfterItsOwnGraces) {
  const TimePoint t0{};
  const DrainPlan p = planDrain(t0, 20s, 5s);
  EXPECT_EQ(p.workersStopAt, t0 + 20s);
  EXPECT_EQ(p.routerGrace, 30s);  // the router cuts at 20 s + 5 s, then leaves the mesh
  EXPECT_EQ(planDrain(t0, 0s, 2s).routerGrace, 4s);
}

TEST(DrainPlan, WorkersStopOnceTheRouterIsGoneOrAtTheDeadline) {
  const TimePoint t0{};
  const DrainPlan p = planDrain(t0, 10s, 1s);
  EXPECT_FALSE(drainStopsWorkers(p, t0 + 9s, false));
  EXPECT_TRUE(drainStopsWorkers(p, t0 + 1s, true));
  EXPECT_TRUE(drainStopsWorkers(p, t0 + 10s, false));
}

bool drainTestHasPython() { return std::system("command -v python3 >/dev/null 2>&1") == 0; }

std::string drainEvents(const fs::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A stand-in child: answers /health on the port after --port (or `port`), appends
// "NAME-term" to `events` on SIGTERM and "NAME-exit" when it leaves, `exitAfter` seconds
// after the SIGTERM.
fs::path writeDrainStandIn(const test::TempDir& dir, const std::string& name, uint16_t port, double exitAfter) {
  const fs::path events = dir / "events";
  const fs::path script = dir.write(
      name + ".py",
      "#!/usr/bin/env python3\n"
      "import http.server, os, signal, sys, threading, time\n"
      "port = " + std::to_string(port) + "\n"
      "if '--port' in sys.argv: port = int(sys.argv[sys.argv.index('--port') + 1])\n"
      "def note(what):\n"
      "    with open('" + events.string() + "', 'a') as f: f.write('" + name + "-' + what + '\\n')\n"
      "def leave():\n"
      "    time.sleep(" + std::to_string(exitAfter) + ")\n"
      "    note('exit')\n"
      "    os._exit(0)\n"
      "def term(*a):\n"
      "    note('term')\n"
      "    threading.Thread(target=leave, daemon=True).start()\n"
      "signal.signal(signal.SIGTERM, term)\n"
      "class H(http.server.BaseHTTPRequestHandler):\n"
      "    def do_GET(self):\n"
      "        self.send_response(200)\n"
      "        self.send_header('Content-Length', '2')\n"
      "        self.end_headers()\n"
      "        self.wfile.write(b'{}')\n"
      "    def log_message(self, *args):\n"
      "        pass\n"
      "http.server.ThreadingHTTPServer(('127.0.0.1', port), H).serve_forever()\n");
  fs::permissions(script, fs::perms::owner_all);
  return script;
}

const std::string kDrainToken(64, '5');

// A node of one stand-in model and a stand-in router, on its own io_context thread; `drained`
// is set when drain()'s done runs.
class DrainedNode {
 public:
  DrainedNode(const test::TempDir& dir, Millis drainTimeout, double routerExitAfter, double modelExitAfter)
      : config_(makeConfig(dir, drainTimeout)),
        node_(io_, config_, binaries(dir, config_.router.listen.port, routerExitAfter, modelExitAfter), {}),
        api_(io_, node_, [] {}, kDrainToken) {
    api_.setOnDrain([this] { node_.drain([this] { drained_ = true; }); });
    EXPECT_TRUE(api_.listen(config_.node.control));
    node_.start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~DrainedNode() {
    boost::asio::post(io_, [this] { node_.stop([this] { io_.stop(); }); });
    if (drained_) io_.stop();
    thread_.join();
  }
  nlohmann::json status() const {
    const auto j = nlohmann::json::parse(test::httpGet("http://" + config_.node.control.str() + "/status", 5s).body,
                                         nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
  bool allReady() const {
    const auto s = status();
    return s.contains("router") && s["router"].is_object() && s["router"].value("state", "") == "ready" &&
           s["models"].size() == 1 && s["models"][0].value("state", "") == "ready";
  }
  test::HttpResponse postDrain() {
    return test::httpRequest("POST", "http://" + config_.node.control.str() + "/drain", "",
                             {{"Authorization", "Bearer " + kDrainToken}}, 5s);
  }
  bool drained() const { return drained_; }

 private:
  static NodeConfig makeConfig(const test::TempDir& dir, Millis drainTimeout) {
    NodeConfig c;
    c.file = dir / "node.yaml";
    c.node.name = "drain-test";
    c.node.data_dir = dir / "data";
    c.node.control = HostPort{"127.0.0.1", test::freeLoopbackPort()};
    c.node.drain_timeout = drainTimeout;
    c.router.listen = HostPort{"127.0.0.1", test::freeLoopbackPort()};
    c.supervisor.health.interval = 100ms;
    c.supervisor.stop_grace = 5s;
    ModelConfig m;
    m.name = "demo";
    m.gguf = dir / "none.gguf";
    c.models.push_back(m);
    return c;
  }
  static NodeBinaries binaries(const test::TempDir& dir, uint16_t routerPort, double routerExitAfter,
                               double modelExitAfter) {
    NodeBinaries b;
    b.llama_server = writeDrainStandIn(dir, "model", 0, modelExitAfter);
    b.router = writeDrainStandIn(dir, "router", routerPort, routerExitAfter);
    return b;
  }

  boost::asio::io_context io_;
  NodeConfig config_;
  NodeSupervisor node_;
  ControlApi api_;
  std::atomic<bool> drained_{false};
  std::thread thread_;
};

TEST(NodeDrain, RouterGoesFirstAndTheWorkersOnlyOnceItIsGone) {
  if (!drainTestHasPython()) GTEST_SKIP() << "python3 not found";
  test::TempDir dir;
  DrainedNode n(dir, 30s, 0.5, 0);
  ASSERT_TRUE(test::waitUntil([&] { return n.allReady(); }, 20s)) << n.status().dump();
  const auto r = n.postDrain();
  EXPECT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(test::waitUntil([&] { return n.drained(); }, 10s)) << drainEvents(dir / "events");
  // Long before node.drain_timeout (30 s): the router was done, so nothing waited for it.
  EXPECT_EQ(drainEvents(dir / "events"), "router-term\nrouter-exit\nmodel-term\nmodel-exit\n");
}

TEST(NodeDrain, WorkersStopAtTheDrainTimeoutWhileTheRouterStillRelays) {
  if (!drainTestHasPython()) GTEST_SKIP() << "python3 not found";
  test::TempDir dir;
  DrainedNode n(dir, 300ms, 2.0, 0);
  ASSERT_TRUE(test::waitUntil([&] { return n.allReady(); }, 20s)) << n.status().dump();
  ASSERT_EQ(n.postDrain().status, 202);
  ASSERT_TRUE(test::waitUntil([&] { return drainEvents(dir / "events").find("router-term") != std::string::npos; },
                              5s));
  EXPECT_TRUE(n.status().value("draining", false)) << n.status().dump();
  ASSERT_TRUE(test::waitUntil([&] { return n.drained(); }, 10s)) << drainEvents(dir / "events");
  // The workers went at the deadline, while the router (still relaying) was up: its streams
  // are the ones that continue elsewhere.
  EXPECT_EQ(drainEvents(dir / "events"), "router-term\nmodel-term\nmodel-exit\nrouter-exit\n");
}

}  // namespace
}  // namespace qmesh
