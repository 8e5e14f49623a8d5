// The relay's one timer (response_relay.h), as pure functions of the stream's times: when it
// fires next and what is due when it does. One timer per relay, re-armed when it fires, not
// per event: re-arming a timer per event cost more CPU than relaying the event.
//
//   cut          a write to the client has not finished for router.write_timeout: the
//                client stopped reading and is dropped
//   keepalive    an event stream wrote nothing for router.keepalive_interval: a comment goes
//                out (between events only; the relay checks that)
//   stall        a continuable stream read nothing from its worker for router.stall_timeout
//                (stream_continuation.h). Not while a write to the client is pending (the
//                relay reads nothing then, so the worker is not the one stalling) nor during
//                a failover
//   checkWorker  a continuable stream looks at its worker's state in the directory
//
// A deadline already passed and not acted on (a keepalive due in the middle of an event, a
// stall during a slow write) moves a whole period on: the timer never spins.
#pragma once

#include <chrono>

#include "common/clock.h"
#include "router/router_config.h"

namespace qmesh::router {

// How often a continuable stream looks at its worker in the directory: the supervisor polls
// health once a second, so looking more often finds nothing sooner.
inline constexpr std::chrono::milliseconds kWorkerCheck{1000};

struct RelayTimeouts {
  bool sse = false;          // an event stream: keepalive comments
  bool continuable = false;  // stall and worker checks
  Millis keepalive{15000};
  Millis write{120000};
  Millis stall{30000};
};

struct RelayTimes {
  TimePoint lastWrite{};     // end of the last write to the client
  TimePoint writeStart{};    // start of the pending write, if `writing`
  TimePoint lastUpstream{};  // the last byte from the worker
  bool writing = false;
  bool failingOver = false;  // between workers: neither stall nor keepalive applies
};

struct RelayDue {
  bool cut = false;
  bool stall = false;
  bool checkWorker = false;
  bool keepalive = false;
};

RelayTimeouts relayTimeouts(const RouterConfig& config, bool sse, bool continuable);
RelayDue relayDue(const RelayTimeouts& t, const RelayTimes& s, TimePoint now);
TimePoint nextRelayTick(const RelayTimeouts& t, const RelayTimes& s, TimePoint now);

}  // namespace qmesh::router
