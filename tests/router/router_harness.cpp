#include "tests/router/router_harness.h"

#include <csignal>
#include <stdexcept>

namespace qmesh::test {

RouterHarness::RouterHarness(router::RouterConfig cfg, const qmesh::Clock* clock) : io_(1) {
  std::signal(SIGPIPE, SIG_IGN);
  router_ = std::make_unique<router::Router>(io_, std::move(cfg), clock ? *clock : static_cast<const qmesh::Clock&>(clock_));
  if (auto err = router_->start()) throw std::runtime_error(err->message);
  port_ = router_->port();
  thread_ = std::thread([this] {
    io_.run();
    stopped_ = true;
  });
}

void RouterHarness::drain() {
  router::net::post(io_, [this] { router_->drain(); });
}

RouterHarness::~RouterHarness() {
  router::net::post(io_, [this] { router_->shutdown(); });
  thread_.join();
}

router::RouterConfig RouterHarness::config(std::vector<router::StaticWorker> workers) {
  router::RouterConfig c;
  c.node_name = "testnode";
  c.listen = {"127.0.0.1", 0};
  c.static_workers = std::move(workers);
  c.queue_timeout = std::chrono::milliseconds(300);
  c.header_timeout = std::chrono::milliseconds(1000);
  c.body_timeout = std::chrono::milliseconds(1000);
  c.keepalive_interval = std::chrono::milliseconds(15000);
  c.shutdown_grace = std::chrono::milliseconds(300);
  return c;
}

}  // namespace qmesh::test
