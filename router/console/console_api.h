// The console's endpoints, behind admin_access.h (route() says Action::Admin):
//
//   GET  /console, /console/*            the page (console_assets.h), compiled in
//   GET  /api/events                     Server-Sent Events (event_stream.h)
//   GET  /api/console                    one snapshot: node, host load, /api/status,
//                                        /api/mesh, live requests, recent errors
//   GET  /api/requests, /api/errors      live requests; the last errors
//   GET  /api/workers/NAME/log           the worker's last output lines (from the supervisor)
//   POST /api/workers/NAME/restart       restart a worker (through the supervisor)
//   POST /api/models/NAME/load, /unload  start or stop a model's workers (through the
//                                        supervisor; 409 with its reason, e.g. over budget)
//   POST /api/requests/ID/cancel         end a request as if its client hung up
//   POST /api/invites                    a new invite token for this node's mesh
#pragma once

#include "router/net.h"
#include "router/proxy/client_link.h"

namespace qmesh::router {

net::awaitable<bool> serveAdmin(ClientLink& link, const http::request<http::string_body>& req, RequestCtx& ctx);

}  // namespace qmesh::router
