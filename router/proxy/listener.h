// Accepts client connections and starts one HttpSession per connection, up to
// RouterState::maxConnections. At the cap a newcomer takes the place of the connection that
// has waited longest for a request (RouterState::idleSessions); only when every connection
// has a request in progress does it get a 503 and is closed.
#pragma once

#include <memory>
#include <string>

#include "common/node_config.h"
#include "router/net.h"
#include "router/router_state.h"

namespace qmesh::router {

class Listener {
 public:
  Listener(net::io_context& io, std::shared_ptr<RouterState> state);
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
  std::shared_ptr<RouterState> state_;
};

}  // namespace qmesh::router
