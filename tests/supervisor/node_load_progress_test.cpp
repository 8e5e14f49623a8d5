// A model's load progress wakes the supervisor's long polls (node_supervisor.cpp hands each
// launcher a callback that bumps the generation; the router's console hears of it through
// this poll). A real NodeSupervisor and ControlApi whose llama-server is a Python stand-in
// that answers /health 503 ("Loading model") for ever and prints a progress dot every 300 ms.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
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

fs::path writeSlowLoaderStandIn(const test::TempDir& dir) {
  const fs::path script = dir.write(
      "slow-loader.py",
      "#!/usr/bin/env python3\n"
      "import http.server, sys, threading, time\n"
      "port = int(sys.argv[sys.argv.index('--port') + 1])\n"
      "def dots():\n"
      "    sys.stderr.write('load_tensors: loading model tensors, this can take a while...\\n')\n"
      "    sys.stderr.flush()\n"
      "    for _ in range(100):\n"
      "        time.sleep(0.3)\n"
      "        sys.stderr.write('.')\n"
      "        sys.stderr.flush()\n"
      "class H(http.server.BaseHTTPRequestHandler):\n"
      "    def do_GET(self):\n"
      "        body = b'{\"error\":{\"code\":503,\"message\":\"Loading model\"}}'\n"
      "        self.send_response(503)\n"
      "        self.send_header('Content-Length', str(len(body)))\n"
      "        self.end_headers()\n"
      "        self.wfile.write(body)\n"
      "    def log_message(self, *args):\n"
      "        pass\n"
      "threading.Thread(target=dots, daemon=True).start()\n"
      "http.server.ThreadingHTTPServer(('127.0.0.1', port), H).serve_forever()\n");
  fs::permissions(script, fs::perms::owner_all);
  return script;
}

const std::string kProgressToken(64, '7');

NodeConfig slowLoaderNode(const test::TempDir& dir) {
  NodeConfig c;
  c.file = dir / "node.yaml";
  c.node.name = "progress-test";
  c.node.data_dir = dir / "data";
  c.node.control = HostPort{"127.0.0.1", test::freeLoopbackPort()};
  c.supervisor.health.interval = 100ms;
  c.supervisor.stop_grace = 2s;
  ModelConfig m;
  m.name = "demo";
  m.gguf = dir / "none.gguf";
  c.models.push_back(m);
  return c;
}

nlohmann::json demoOf(const test::HttpResponse& r) {
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("models") || j["models"].empty()) return nlohmann::json::object();
  nlohmann::json m = j["models"][0];
  m["generation"] = j["generation"];
  return m;
}

TEST(NodeLoadProgress, EachStepOfALoadWakesTheStatusLongPoll) {
  if (std::system("command -v python3 >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not found";
  test::TempDir dir;
  boost::asio::io_context io;
  const NodeConfig config = slowLoaderNode(dir);
  NodeSupervisor node(io, config, NodeBinaries{writeSlowLoaderStandIn(dir)}, {});
  ControlApi api(io, node, [] {}, kProgressToken);
  node.setOnChange([&] { api.notifyChange(); });  // as commands.cpp wires them
  ASSERT_TRUE(api.listen(config.node.control));
  node.start();
  std::thread loop([&] { io.run(); });
  const std::string status = "http://" + config.node.control.str() + "/status";
  nlohmann::json demo;
  // Loading (its state no longer changes: /health says 503 for ever) and its dots begun.
  const bool loading = test::waitUntil([&] {
    demo = demoOf(test::httpGet(status, 5s));
    return demo.value("state", "") == "loading" && demo.value("load_progress", 0.0) > 0;
  }, 20s);
  EXPECT_TRUE(loading) << demo.dump();
  if (loading) {
    // Nothing changes now but the progress: the poll must answer with the next dot (300 ms),
    // long before it would time out (25 s).
    const auto began = std::chrono::steady_clock::now();
    const auto next = demoOf(test::httpGet(status + "?after=" + std::to_string(demo["generation"].get<uint64_t>()), 30s));
    EXPECT_LT(std::chrono::steady_clock::now() - began, 5s) << "the long poll did not wake on the progress";
    EXPECT_EQ(next.value("state", ""), "loading") << next.dump();
    EXPECT_GT(next.value("load_progress", 0.0), demo["load_progress"].get<double>()) << next.dump();
  }
  boost::asio::post(io, [&] { node.stop([&] { io.stop(); }); });
  loop.join();
}

}  // namespace
}  // namespace qmesh
