// What one router's connections share: the RouterContext, the SessionRegistry, the idle
// channels to other routers and (when the mesh is on) the narrow MeshLink onto it. Owned by
// Router through a shared_ptr that every session holds too, so it outlives the last of them.
// Each part is handed on alone to what uses only that part (Admission, MeshNode, pages).
#pragma once

#include <algorithm>
#include <chrono>

#include "router/dataplane/channel_pool.h"
#include "router/dataplane/open_gate.h"
#include "router/mesh/mesh_link.h"
#include "router/proxy/session_registry.h"
#include "router/proxy/upstream_pool.h"
#include "router/router_context.h"

namespace qmesh::router {

struct RouterServices {
  RouterServices(RouterConfig cfg, const Clock& clock)
      : context(std::move(cfg), clock),
        // Idle well under the peer's keep-alive timeout (its header_timeout; ours is the best
        // guess), so a peer seldom closes a channel as we reuse it.
        meshChannels(dataplane::ChannelPoolOptions{
            8, std::min<std::chrono::milliseconds>(std::chrono::seconds(4), context.config.header_timeout / 2)}) {}

  RouterContext context;
  SessionRegistry sessions;
  // Mesh (null when the node is a mesh of one). Requests from other routers arrive on the
  // authenticated data-plane channel and are served there (HopSession), never forwarded on.
  MeshLink* mesh = nullptr;
  dataplane::ChannelPool meshChannels;  // idle channels to other routers, for reuse
  // Half the peer's cap on unfinished handshakes from one address (DataPlaneListenerOptions::
  // maxPendingPerSource, 32), so a burst of requests never has its own handshakes evicted.
  dataplane::OpenGate meshOpens{16};
  UpstreamPool localConnections;        // idle connections to local workers, for reuse
};

}  // namespace qmesh::router
