// /livez and /readyz, for a process manager or Kubernetes probes (issue 12):
//   /livez   200 while the router's loop runs, draining or not: restart it only if this fails.
//   /readyz  200 when the router can take a new request: it has heard from its supervisor
//            (or has static workers), is not draining, and some model has a routable worker
//            here or in the mesh, or (supervised) an unloaded one here that a request would
//            load (issue 10); otherwise 503 with the reason, so a load balancer sends
//            new requests elsewhere while streams in flight finish.
// Both are open without an API key, like /health.
#pragma once

#include <string>
#include <utility>

#include "router/router_context.h"

namespace qmesh::router {

// {status, JSON body}.
std::pair<int, std::string> livenessProbe(bool draining);
std::pair<int, std::string> readinessProbe(const RouterContext& ctx, bool draining);

}  // namespace qmesh::router
