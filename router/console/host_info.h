// The machine the router runs on, for the console's Mesh view: load averages, uptime,
// memory. Read from /proc (no disk: the kernel answers from memory); the parsers are in
// router/mesh/system_load.h.
#pragma once

#include <nlohmann/json_fwd.hpp>

namespace qmesh::router {

// {"load": [1m, 5m, 15m], "uptime_s": .., "mem_percent": .., "cpus": ..}; fields it cannot
// read are null.
nlohmann::json hostInfoJson();

}  // namespace qmesh::router
