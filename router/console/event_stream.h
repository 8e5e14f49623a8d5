// GET /api/events: the event bus (event_bus.h) as a Server-Sent Events stream on one client
// connection. Replays what the reader missed after its Last-Event-ID, then every new event
// as it is published; ": keepalive" comments on a quiet stream. A reader that falls
// `maxQueued` events behind, or whose socket takes no bytes for router.write_timeout, is
// disconnected (counted): memory stays bounded. Ends when the router stops.
#pragma once

#include <optional>

#include "router/net.h"
#include "router/proxy/client_link.h"

namespace qmesh::router {

// Always false: the connection closes after the stream.
net::awaitable<bool> serveEventStream(ClientLink& link, RequestCtx& ctx, std::optional<uint64_t> lastEventId);

}  // namespace qmesh::router
