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
  // What gossip last said of a remote worker, so a worker_state event is published only
  // when it changes (mesh_events.h).
  struct RemoteWorkerSeen {
    std::string state;
    int64_t loadPercent = -1;  // its load progress in percent; -1: none
    bool operator==(const RemoteWorkerSeen&) const = default;
  };
  // "node/model" -> what was last seen of it.
  std::map<std::string, RemoteWorkerSeen> remoteWorkers;
};

}  // namespace qmesh::router
