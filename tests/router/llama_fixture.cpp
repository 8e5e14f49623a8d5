#include "tests/router/llama_fixture.h"

#include <stdexcept>

#include "tests/support/http_client.h"

namespace qmesh::test {

using namespace std::chrono;

LlamaServer startLlama(const TempDir& dir, const std::string& name, int slots, int ctx,
                       std::vector<std::string> extra) {
  LlamaServer s;
  s.port = freeLoopbackPort();
  std::vector<std::string> argv = {llamaServerBinary().string(), "-m", demoModel().string(), "--host", "127.0.0.1",
                                   "--port", std::to_string(s.port), "-np", std::to_string(slots), "-c",
                                   std::to_string(ctx), "-a", name, "-t", "1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  s.proc = std::make_unique<TestProcess>(argv, dir / ("llama-" + name + "-" + std::to_string(s.port) + ".log"));
  const bool up = waitUntil([&] { return httpGet(s.url() + "/health", milliseconds(500)).status == 200; },
                            seconds(60), milliseconds(50));
  if (!up) throw std::runtime_error("llama-server did not become healthy: " + s.proc->output());
  return s;
}

RouterProcess startRouter(const TempDir& dir, const std::vector<std::string>& workers, std::vector<std::string> extra) {
  RouterProcess r;
  r.port = freeLoopbackPort();
  std::vector<std::string> argv = {routerBinary().string(), "--listen", "127.0.0.1:" + std::to_string(r.port),
                                   "--node", "itest"};
  for (const auto& w : workers) {
    argv.push_back("--worker");
    argv.push_back(w);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  r.proc = std::make_unique<TestProcess>(argv, dir / ("router-" + std::to_string(r.port) + ".log"));
  const bool up = waitUntil([&] { return httpGet(r.url("/health"), milliseconds(500)).status == 200; }, seconds(10));
  if (!up) throw std::runtime_error("qmesh-router did not start: " + r.proc->output());
  return r;
}

}  // namespace qmesh::test
