// Accepts client connections and starts one HttpSession per connection, up to the
// SessionRegistry's cap. At the cap a newcomer takes the place of the connection that has
// waited longest for a request (SessionRegistry::evictLongestIdle); only when every
// connection has a request in progress does it get a 503 and is closed.
#pragma once

#include <memory>
#include <string>

#include "common/node_config.h"
#include "router/net.h"
#include "router/router_services.h"

namespace qmesh::router {

class Listener {
 public:
  // `services`: handed to every session it starts.
  Listener(net::io_context& io, std::shared_ptr<RouterServices> services);
  // Binds and listens; the error says whether the address is in use (exit code 4).
  error_code open(const HostPort& address);
  void start();
  void stop();
  uint16_t port() const;

 private:
  net::awaitable<void> acceptLoop();
  // Closes the longest-idle session to make room; false when every session is busy.
  bool evictIdle();
  // Answers 503 and closes. At most kMaxTurningAway at once; beyond that, closed unanswered.
  void turnAway(tcp::socket socket);
  static constexpr int kMaxTurningAway = 64;
  net::io_context& io_;
  tcp::acceptor acceptor_;
  std::shared_ptr<RouterServices> services_;
};

}  // namespace qmesh::router
