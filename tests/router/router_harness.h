// Runs a real Router (library, in-process) on its own io_context thread for proxy tests.
// The test thread only talks to it over HTTP, and stops it through a post: nothing else
// is shared, so the tests stay clean under TSan.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.h"
#include "router/net.h"
#include "router/router.h"

namespace qmesh::test {

// The smallest chat completion request, as the proxy tests send it, and its streaming form.
inline const std::string kChat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
inline const std::string kStreamingChat =
    R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true})";

// The static worker "m" served by a FakeUpstream (or anything listening) on `port`.
inline router::StaticWorker workerOn(uint16_t port, int slots = 4) { return router::StaticWorker{"m", "127.0.0.1", port, slots}; }

class RouterHarness {
 public:
  // The router reads time from `clock` when one is given (it must outlive the harness).
  explicit RouterHarness(router::RouterConfig cfg, const qmesh::Clock* clock = nullptr);
  ~RouterHarness();
  uint16_t port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  // SIGTERM's drain (Router::drain), posted; stopped() once the router has stopped itself.
  void drain();
  bool stopped() const { return stopped_.load(); }

  // A static-mode config for tests: port 0, fast timeouts, one worker per entry.
  static router::RouterConfig config(std::vector<router::StaticWorker> workers);

 private:
  qmesh::SteadyClock clock_;  // outlives io_, whose handlers may still hold sessions
  router::net::io_context io_;
  std::unique_ptr<router::Router> router_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};  // io_.run() returned
};

}  // namespace qmesh::test
