// What the router's event sources tell the event bus (event_bus.h), in one place so the
// hooks in the router, the mesh and the session are one line each:
//   member_joined / member_state     a node appears, turns suspect, dead or left, or revives
//   worker_state                     a worker of this node (from the supervisor) or of
//                                    another (from its gossip) changes state
//   keys_reloaded, supervisor_lost, supervisor_back
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "router/routing/worker_directory.h"

namespace qmesh::router {

struct ConsoleState;
struct WorkerMeta;

void publishMemberChange(ConsoleState& c, const std::string& name, const std::string& id, const std::string& address,
                         std::string_view state, std::string_view previous, bool isNew);
// The node's workers as its gossip now says (empty: it is gone); one event per worker whose
// state differs from the last seen, and `gone` for workers no longer there.
void publishRemoteWorkers(ConsoleState& c, const std::string& node, const std::vector<WorkerMeta>& workers);
// With `load_progress` (0..1) while it starts or loads, when the supervisor reports one.
void publishLocalWorker(ConsoleState& c, const std::string& node, const WorkerInfo& w, uint64_t generation);
// Whether a supervisor snapshot changed a local worker in a way the console shows: new, a
// new state, or its load progress moved (the supervisor answers its long poll on each
// percent: at most 100 events a load). `before` null: the worker is new.
bool localWorkerChanged(const WorkerInfo* before, const WorkerInfo& now);
void publishKeysReloaded(ConsoleState& c, bool ok, const std::string& detail);
// The router's status poll of its supervisor (status_client.h) failed or answered, with
// what the router knew before: supervisor_lost when a supervisor that answered stops
// answering, supervisor_back when it answers again. The first answer after the router
// starts is neither, nor is every further failure of an outage.
void publishSupervisorReach(ConsoleState& c, const std::string& address, bool wasReachable, bool everReached,
                            bool reachable, const std::string& detail);

}  // namespace qmesh::router
