#include "router/console/admin_access.h"

#include <sodium.h>

namespace qmesh::router {

namespace {

bool matchesAny(std::string_view key, const std::vector<std::string>* keys) {
  if (!keys || key.empty()) return false;
  bool ok = false;
  // Constant time per candidate, every candidate compared: no timing hint of which matched.
  for (const auto& k : *keys) ok |= k.size() == key.size() && sodium_memcmp(k.data(), key.data(), key.size()) == 0;
  return ok;
}

bool isGet(std::string_view method) { return method == "GET" || method == "HEAD"; }

// The pages the router had before the console; with only API keys they keep taking them.
bool isLegacyApiPage(std::string_view path) { return path == "/api/status" || path == "/api/mesh"; }

}  // namespace

bool isConsolePage(std::string_view path) { return path == "/console" || path.substr(0, 9) == "/console/"; }

bool isAdminPath(std::string_view path) { return isConsolePage(path) || path.substr(0, 5) == "/api/"; }

std::optional<Decision> refuseAdmin(const IncomingRequest& req, const RouteContext& ctx) {
  const std::string_view path = pathOf(req.target);
  if (isConsolePage(path)) {
    if (!isGet(req.method)) return errorDecision(405, "method_not_allowed", "the console's files only take GET");
    return std::nullopt;
  }
  if (!isGet(req.method)) {
    if (req.method != "POST") return errorDecision(405, "method_not_allowed", std::string(path) + " only accepts GET or POST");
    // A browser sends Origin on every cross-site POST; it must be this router's own page.
    if (!req.origin.empty() && (req.host.empty() || req.origin != "http://" + std::string(req.host)))
      return errorDecision(403, "forbidden_origin",
                           "admin actions are refused from another site's page (Origin is not this router)");
  }
  const bool adminKeys = ctx.admin_keys && !ctx.admin_keys->empty();
  const bool apiKeys = ctx.api_keys && !ctx.api_keys->empty();
  const std::string_view key = bearerToken(req.authorization);
  if (adminKeys) {
    if (matchesAny(key, ctx.admin_keys)) return std::nullopt;
    if (matchesAny(key, ctx.api_keys))
      return errorDecision(403, "admin_key_required", "client API keys cannot reach admin endpoints; use an admin key");
    return errorDecision(401, "invalid_admin_key",
                         key.empty() ? "missing admin key: send 'Authorization: Bearer <admin key>' (router.admin_keys)"
                                     : "incorrect admin key provided");
  }
  if (!apiKeys) return std::nullopt;
  if (isLegacyApiPage(path) && isGet(req.method)) {
    if (matchesAny(key, ctx.api_keys)) return std::nullopt;
    return errorDecision(401, "invalid_api_key",
                         key.empty() ? "missing API key: send 'Authorization: Bearer <key>'" : "incorrect API key provided");
  }
  return errorDecision(403, "admin_keys_not_set",
                       "router.api_keys is set but router.admin_keys is not: client keys cannot reach admin "
                       "endpoints; set router.admin_keys to use the console and /api");
}

}  // namespace qmesh::router
