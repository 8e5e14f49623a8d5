// The node's drain (issue 12: a restart drops nothing), as the supervisor runs it on SIGTERM,
// SIGINT or `qmesh-supervisor drain` (POST /drain):
//
//   t0                  SIGTERM to the router only: it takes no new request (/readyz 503), its
//                       workers are gossiped as draining, streams in flight go on
//   router gone         (it left the mesh and exited once nothing was in flight)  ─┐
//   t0 + drain_timeout  whichever comes first: the workers get SIGTERM (SIGKILL   ─┤
//                       after stop_grace); a stream still on one breaks, and the  │
//                       router relaying it continues it on another node's worker  │
//   all reaped          the supervisor exits 0                                   ◀┘
//
// The router cuts what it still relays at drain_timeout + stop_grace (its shutdown_grace)
// and needs a moment to leave the mesh, so it is SIGKILLed only at drain_timeout + 2 x
// stop_grace. A plain stop (`qmesh-supervisor stop`, POST /shutdown) does none of this: every
// child gets SIGTERM at once.
#pragma once

#include "common/clock.h"
#include "common/node_config.h"

namespace qmesh {

struct DrainPlan {
  TimePoint workersStopAt;  // t0 + node.drain_timeout
  Millis routerGrace;       // the router's SIGTERM to SIGKILL
};

DrainPlan planDrain(TimePoint start, Millis drainTimeout, Millis stopGrace);

// Stop the workers now? Once the router is gone (nothing is left to relay) or at the deadline.
bool drainStopsWorkers(const DrainPlan& plan, TimePoint now, bool routerGone);

}  // namespace qmesh
