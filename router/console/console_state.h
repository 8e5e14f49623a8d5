// What the console's endpoints share, one per router (a member of RouterContext): the event
// bus behind GET /api/events, the live requests and recent errors, and what the admin
// actions need from the node (its supervisor's control token, the invite maker).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "common/result.h"
#include "router/console/event_bus.h"
#include "router/console/live_requests.h"
#include "router/console/token_rates.h"

namespace qmesh::router {

struct ConsoleState {
  EventBus events;
  LiveRequests live;
  RecentErrors errors;
  TokenRates localRates;  // of streams this node's workers served (gossiped)
  uint64_t slowEventReadersCut = 0;  // /api/events readers whose socket took nothing for write_timeout
  // "node/model" -> state of every remote worker last seen in gossip, so a worker_state
  // event is published only when one changes (console_events.h).
  std::map<std::string, std::string> remoteWorkerStates;
  // "node/model" -> its load progress in percent as last gossiped (-1: none), likewise.
  std::map<std::string, int64_t> remoteLoadPercents;
};

}  // namespace qmesh::router
