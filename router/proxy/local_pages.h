// The bodies the router answers itself: /health, /v1/models (OpenAI shape, every model of
// the mesh), /api/status, /api/mesh and /metrics.
#pragma once

#include <string>

#include "router/mesh/mesh_link.h"
#include "router/router_context.h"

namespace qmesh::router {

std::string healthJson(const RouterContext& st, bool draining);
std::string modelsJson(const RouterContext& st);
std::string apiStatusJson(const RouterContext& st, bool draining);
// Members, their workers and the gossip/crypto counters; {"enabled":false} for a mesh of one.
// `mesh`: null when the mesh is off; `hopSessions`: hops being served.
std::string apiMeshJson(const RouterContext& st, const MeshLink* mesh, int64_t hopSessions);
std::string metricsText(const RouterContext& st, const MeshLink* mesh);

}  // namespace qmesh::router
