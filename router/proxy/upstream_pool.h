// Idle keep-alive connections to local llama-servers, kept for the next request to the same
// worker: the loopback counterpart of dataplane/channel_pool.h, and what nginx's upstream
// `keepalive` does.
//
// Why: a fresh connection per request costs a connect, llama-server's accept and its
// HTTP thread hand-off, and the router's socket setup; on the 2-core bench VM that was most
// of the router's added time to first byte (bench/RESULTS.md).
//
// The rules:
// - A connection comes back only after a response read to its end on a connection the
//   worker keeps alive, whose client did not hang up (LocalUpstream::releaseForReuse). A
//   client that hangs up still closes its upstream at once, so llama-server frees the slot.
// - take() hands out the most recently returned connection that is still quiescent (a
//   worker that closed it has made it readable) and idled less than maxIdle. maxIdle (2 s)
//   stays well below cpp-httplib's 5 s keep-alive timeout, so a worker seldom closes a
//   connection just as it is reused; if it does, see Forwarder::tryWorker for when the
//   request is retried (only when none of it was sent).
// - Each idle connection is watched: when the worker closes it (its timeout, a restart),
//   it is closed here at once, so no CLOSE_WAIT socket lingers.
// - At most maxIdlePerWorker idle per worker, and never more than the worker's slots:
//   cpp-httplib serves a keep-alive connection on one of its n_parallel + 2 HTTP threads
//   until it closes, so idle connections beyond the slots would starve its /health.
//
// Keyed by the worker's address: a worker restarted on another port never gets the old
// one's connections. Single-threaded, like the rest of the router; time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "router/net.h"

namespace qmesh::router {

struct UpstreamPoolOptions {
  std::size_t maxIdlePerWorker = 32;
  std::chrono::milliseconds maxIdle{2000};
};

struct UpstreamPoolCounters {
  uint64_t reused = 0;    // take() found one
  uint64_t returned = 0;  // put() kept one
  uint64_t stale = 0;     // closed by the worker (or sent bytes unasked) when looked at
  uint64_t expired = 0;   // idled longer than maxIdle
  uint64_t overflow = 0;  // put() while the cap were already idle
};

class UpstreamPool {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit UpstreamPool(UpstreamPoolOptions options = {}) : options_(options) {}
  ~UpstreamPool() { clear(); }
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // A connection to `worker` ready for the next request, or null: connect a new one.
  std::unique_ptr<tcp::socket> take(const tcp::endpoint& worker, TimePoint now);
  // Keeps `socket` (connected to `worker`, its last response complete) if it is quiescent;
  // `cap` is the worker's slots (at most that many stay idle).
  void put(const tcp::endpoint& worker, std::unique_ptr<tcp::socket> socket, std::size_t cap, TimePoint now);
  void clear();

  std::size_t idle() const;
  const UpstreamPoolCounters& counters() const { return counters_; }

  // Nothing to read and no EOF or error pending: the worker has not closed the connection.
  static bool quiescent(tcp::socket& s);

 private:
  struct Idle {
    std::unique_ptr<tcp::socket> socket;
    TimePoint since;
  };
  // Closes what idled longer than maxIdle; the most recently returned stay at the back. By
  // time only: a syscall per idle connection on every take and put made the pool's peeks a
  // fifth of the router's reads at 64 streams (bench/RESULTS.md). A connection the worker
  // closed is found by its watch, or by the one check of the connection take() hands out.
  void expire(std::vector<Idle>& list, TimePoint now);
  void watch(const tcp::endpoint& worker, tcp::socket* socket);
  void onReadable(const tcp::endpoint& worker, tcp::socket* socket);

  UpstreamPoolOptions options_;
  UpstreamPoolCounters counters_;
  std::map<tcp::endpoint, std::vector<Idle>> idle_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // guards watch handlers
};

}  // namespace qmesh::router
