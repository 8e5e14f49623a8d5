// Tokens per second of the streams this node's own workers served over the last minute, by
// model: for the console's Models view here, and gossiped (node_meta.h) so the consoles of
// other nodes show it too. Every stream a local worker served passes through this node's
// router (from a client of this router or from another router), so this counts them all,
// which no single other router can.
//
// The figure is the streams' own speed, sum(tokens) / sum(durations), as console.js computes
// it from request_finished events: a stream's duration includes its queueing and prompt.
// Bounded: at most kKept streams are remembered. Single-threaded (the router's io_context).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "router/net.h"

namespace qmesh::router {

class TokenRates {
 public:
  static constexpr std::size_t kKept = 4096;  // ~70 streams a second for a minute
  static constexpr auto kWindow = std::chrono::seconds(60);

  // A stream that ended at `now` after `duration`, with `tokens` SSE events relayed.
  void record(std::string_view model, int64_t tokens, std::chrono::milliseconds duration, TimePoint now);
  // Tokens/s of `model` over the streams that ended within kWindow of `now`; 0 when none.
  double perSecond(std::string_view model, TimePoint now) const;

 private:
  struct Stream {
    TimePoint end;
    std::string model;
    int64_t tokens;
    std::chrono::milliseconds duration;
  };
  std::deque<Stream> streams_;
};

// Whether a request's route (x-qmesh-route) ended on a worker of node `self`: its last (and
// only) hop is "SELF/WORKER (why)", where a forwarded one reads "SELF (why) > NEXT".
bool servedHere(std::string_view route, std::string_view self);

}  // namespace qmesh::router
