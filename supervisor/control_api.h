// The supervisor's local HTTP control API (loopback only). What `qmesh-supervisor status`
// prints and what the router reads:
//   GET  /status[?after=N]      JSON of the node and every child; with `after`, waits until
//                               the generation exceeds N (or ~25 s) so readers see changes at once
//   GET  /metrics               Prometheus text (the node's, plus the parked long-polls)
//   POST /children/NAME/restart operator restart; also clears a crash-loop `failed`
//   POST /mesh/reload-keys      SIGHUP to the router so it re-reads mesh.key_file:
//                               200 {"signalled":true}; 202 {"deferred":true} while the
//                               router starts (signalled once ready); 409 no router running
//   POST /shutdown              graceful stop of the whole node (SIGTERM to every child)
//   POST /drain                 drain, then stop (supervisor/node_drain.h): 202 {"draining":true}
//
// Hostile input (supervisor/control_token.h for the token):
//   - every request other than GET needs `Authorization: Bearer <token>`: 401 without one,
//     403 with a wrong one;
//   - a request with an `Origin` header (a web page in a browser on this machine), or with a
//     `Host` header that is not a loopback address or localhost (DNS rebinding), gets 403;
//   - a handler that throws answers 500; nothing a client sends ends the supervisor. Each of
//     these is counted in /metrics (qmesh_supervisor_control_requests_rejected_total).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "common/node_config.h"
#include "common/result.h"

namespace qmesh {

class NodeSupervisor;

class ControlApi {
 public:
  struct Counters {
    uint64_t host = 0;            // refused: a Host header that is not loopback (DNS rebinding)
    uint64_t origin = 0;          // refused: the request carried an Origin header
    uint64_t unauthorized = 0;    // a mutating request without a token (401)
    uint64_t forbidden = 0;       // a mutating request with a wrong token (403)
    uint64_t handler_errors = 0;  // a handler threw; answered 500
    uint64_t loop_exceptions = 0; // exceptions that reached the event loop (event_loop.h)
    uint64_t accept_errors = 0;   // accept() failed (e.g. out of descriptors); retried
  };

  // `token`: what POSTs must carry (control_token.h); never empty.
  ControlApi(boost::asio::io_context& io, NodeSupervisor& node, std::function<void()> onShutdown,
             std::string token);
  ~ControlApi();
  Status listen(const HostPort& address);
  void close();
  void notifyChange();  // wakes every long-poll
  // What POST /drain runs (after its answer is sent); unset: 404.
  void setOnDrain(std::function<void()> f) { onDrain_ = std::move(f); }
  // Long-polls waiting for a change right now (the router keeps one parked); a test can see
  // that its poll is parked before it makes the change that must wake it.
  size_t parkedLongPolls() const;
  Counters& counters() { return counters_; }

 private:
  class Session;
  void accept();
  std::string longPollMetrics() const;

  boost::asio::io_context& io_;
  NodeSupervisor& node_;
  std::function<void()> onShutdown_;
  std::function<void()> onDrain_;
  std::string token_;
  Counters counters_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer acceptRetry_;
  static constexpr std::chrono::milliseconds kAcceptRetry{50};
  // Long-polls park on these timers; notifyChange() cancels them all.
  std::list<std::weak_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace qmesh
