// The receiving half of a load across the mesh (issue 10, part 3): another router found a
// model loaded nowhere and chose this node to load it, with `POST /qmesh/load/NAME` on a
// mesh hop. A hop, so only a member the data-plane handshake proved can ask (a client's plain
// HTTP never reaches this). It is served like a request for the model that this node's own
// workers must serve: it waits in this router's admission queue (router.queue_timeout at
// most) while OnDemandModels loads the model, under node.memory_budget as for any request,
// then gives the slot back at once. So the answer says the model is ready here (200), or why
// it is not: 503 model_load_failed, queue_timeout, 404 model_not_found.
#pragma once

#include <string>
#include <string_view>

#include "router/net.h"
#include "router/proxy/client_link.h"

namespace qmesh::router {

inline constexpr std::string_view kLoadPathPrefix = "/qmesh/load/";

struct HopLoadAnswer {
  int status = 200;
  std::string code;     // OpenAI error code when not 200
  std::string message;  // the error's message, or the 200's JSON body
  int retryAfterSeconds = 0;
};

// `ctx.path` starts with kLoadPathPrefix. Sets ctx.model when the name is valid.
net::awaitable<HopLoadAnswer> loadForPeer(ClientLink& link, http::verb method, RequestCtx& ctx);

}  // namespace qmesh::router
