// Who may reach the console and the management API (/api/*), decided from the header alone
// (a pure function, like route()):
//
//   /console, /console/*   the page's static files: to anyone (they hold no data; the page
//                          asks for an admin key and sends it on every /api call)
//   /api/*                 router.admin_keys set: `Authorization: Bearer <admin key>`; a
//                          client key (router.api_keys) is refused with 403, none with 401.
//                          No admin keys but router.api_keys set: /api/status and /api/mesh
//                          take an API key as before; everything else is refused (403)
//                          until admin keys are set, so client keys never reach an admin
//                          action. No keys at all: open (loopback; the Host/Origin guard of
//                          origin_guard.h applies as for every path).
//   mutating actions       POST only (405 otherwise), and an `Origin` other than the
//                          router's own (http:// + the Host header) is refused (403): a
//                          page elsewhere cannot make the operator's browser act. No cookie
//                          is ever set, so a cross-site request carries no credential.
#pragma once

#include <optional>
#include <string_view>

#include "router/proxy/routes.h"

namespace qmesh::router {

bool isConsolePage(std::string_view path);
bool isAdminPath(std::string_view path);  // /console... or /api/...

// nullopt: go on (read the body, then route() says Action::Admin or the old /api pages).
std::optional<Decision> refuseAdmin(const IncomingRequest& req, const RouteContext& ctx);

}  // namespace qmesh::router
