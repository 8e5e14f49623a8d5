// How many client connections the router serves at once (router.max_connections), within
// the descriptors the process may open. Every client connection may hold one upstream
// connection too (a llama-server or a mesh channel), so each counts twice, and a reserve
// stays free for listeners, mesh sockets, the supervisor poll and turning clients away: a
// full house must never leave a forwarded request unable to connect upstream.
#pragma once

#include <cstdint>

namespace qmesh::router {

inline constexpr int64_t kFdsPerConnection = 2;
inline constexpr int64_t kFdReserve = 128;

// The descriptors `connections` need, reserve included.
constexpr int64_t fdsNeeded(int64_t connections) { return connections * kFdsPerConnection + kFdReserve; }

// The cap that fits under `fdLimit` (RLIMIT_NOFILE): `configured`, or less; at least 1.
int64_t connectionCap(int64_t configured, uint64_t fdLimit);

// Raises the soft RLIMIT_NOFILE towards fdsNeeded(configured) (up to the hard limit) and
// returns connectionCap() under the limit that results; logs a warning when it is lower
// than configured.
int64_t applyConnectionCap(int64_t configured);

}  // namespace qmesh::router
