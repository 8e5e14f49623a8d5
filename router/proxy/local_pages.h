// The bodies the router answers itself: /health, /v1/models (OpenAI shape, every model of
// the mesh), /api/status, /api/mesh and /metrics.
#pragma once

#include <string>

#include "router/router_state.h"

namespace qmesh::router {

std::string healthJson(const RouterState& st);
std::string modelsJson(const RouterState& st);
std::string apiStatusJson(const RouterState& st);
// Members, their workers and the gossip/crypto counters; {"enabled":false} for a mesh of one.
std::string apiMeshJson(const RouterState& st);
std::string metricsText(const RouterState& st);

}  // namespace qmesh::router
