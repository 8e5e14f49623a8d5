// The bodies the router answers itself: /health, /v1/models (OpenAI shape) and /api/status.
#pragma once

#include <string>

#include "router/router_state.h"

namespace qmesh::router {

std::string healthJson(const RouterState& st);
std::string modelsJson(const RouterState& st);
std::string apiStatusJson(const RouterState& st);

}  // namespace qmesh::router
