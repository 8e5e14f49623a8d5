// Follows the supervisor's control API: GET /status, then GET /status?after=<generation>
// long polls that answer as soon as anything changes, so a worker leaving `ready` stops
// receiving traffic at once. Reconnects with capped exponential backoff while the
// supervisor is unreachable, keeping the last known workers (a refused worker connect is
// the faster evidence then).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/host_port.h"
#include "router/net.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

// The wait before reconnect attempt `failures` (1-based): 100 ms doubling up to 2 s.
std::chrono::milliseconds statusRetryDelay(int failures);

class StatusClient {
 public:
  using OnSnapshot = std::function<void(const StatusSnapshot&)>;
  using OnError = std::function<void(const std::string&)>;
  StatusClient(net::io_context& io, HostPort control, OnSnapshot onSnapshot, OnError onError);
  void start();
  void stop();

 private:
  net::awaitable<void> loop();
  net::awaitable<Result<StatusSnapshot>> fetch(uint64_t after, bool longPoll);

  net::io_context& io_;
  HostPort control_;
  OnSnapshot onSnapshot_;
  OnError onError_;
  bool stopped_ = false;
  std::shared_ptr<beast::tcp_stream> stream_;
  net::steady_timer retry_;
};

}  // namespace qmesh::router
