#include "router/proxy/routes.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "router/console/admin_access.h"
#include "router/proxy/bounded_json.h"
#include "router/proxy/request_shape.h"
#include "router/routing/selection_policy.h"

namespace qmesh::router {

using nlohmann::json;

std::string_view errorTypeFor(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "invalid_request_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string openaiError(std::string_view message, std::string_view type, std::string_view code) {
  json j = {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
  // The message may quote the client's path or model name: invalid UTF-8 becomes U+FFFD
  // instead of a type_error thrown out of the session.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Decision errorDecision(int status, std::string_view code, std::string_view message) {
  Decision d;
  d.action = Action::Respond;
  d.status = status;
  d.code = std::string(code);
  d.body = openaiError(message, errorTypeFor(status), code);
  return d;
}

std::string_view pathOf(std::string_view target) { return target.substr(0, target.find('?')); }

bool acceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

namespace {

// Constant-time compare so a key cannot be guessed byte by byte from response timing.
bool sameKey(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

// "Bearer KEY": the scheme is case-insensitive (RFC 7235 §2.1), so "bearer" and "BEARER" too.
std::string_view bearerToken(std::string_view authorization) {
  constexpr std::string_view bearer = "bearer";
  if (authorization.size() <= bearer.size() || authorization[bearer.size()] != ' ') return {};
  for (std::size_t i = 0; i < bearer.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != bearer[i]) return {};
  const std::string_view rest = authorization.substr(bearer.size());
  const auto start = rest.find_first_not_of(' ');
  return start == std::string_view::npos ? std::string_view() : rest.substr(start);
}

namespace {

bool authorized(const IncomingRequest& req, const RouteContext& ctx) {
  if (!ctx.api_keys || ctx.api_keys->empty()) return true;
  const std::string_view key = bearerToken(req.authorization);
  if (key.empty()) return false;
  bool ok = false;
  for (const auto& k : *ctx.api_keys) ok |= sameKey(key, k);
  return ok;
}

// The field each endpoint cannot do without, besides "model".
const char* requiredField(std::string_view path) {
  if (path == "/v1/chat/completions") return "messages";
  if (path == "/v1/completions") return "prompt";
  if (path == "/v1/embeddings") return "input";
  return nullptr;
}

std::string modelList(const std::vector<std::string>& models) {
  if (models.empty()) return "none";
  std::string out;
  for (const auto& m : models) out += (out.empty() ? "" : ", ") + m;
  return out;
}

Decision forward(const IncomingRequest& req, const RouteContext& ctx, std::string_view path) {
  const BoundedJson parsed = parseBoundedJson(req.body);
  if (parsed.outcome == BoundedJson::Outcome::TooDeep)
    return errorDecision(400, "json_too_deep",
                         "the request body nests objects and arrays deeper than " + std::to_string(kMaxJsonDepth) +
                             " levels");
  const json& body = parsed.value;
  if (parsed.outcome != BoundedJson::Outcome::Ok)
    return errorDecision(400, "invalid_json", "the request body is not valid JSON");
  if (!body.is_object()) return errorDecision(400, "invalid_json", "the request body must be a JSON object");
  if (auto bad = checkRequestShape(body, requiredField(path))) return errorDecision(400, bad->code, bad->message);
  Decision d;
  d.model = body["model"].get<std::string>();
  if (std::find(ctx.models.begin(), ctx.models.end(), d.model) == ctx.models.end())
    return errorDecision(404, "model_not_found",
                         "The model '" + d.model + "' does not exist on this node. Available models: " +
                             modelList(ctx.models));
  d.action = Action::Forward;
  const auto stream = body.find("stream");
  d.stream = stream != body.end() && stream->is_boolean() && stream->get<bool>();
  d.affinity = affinityKey(path, d.model, body);
  return d;
}

// Length-prefixed, so ("ab","c") and ("a","bc") differ.
void appendField(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
}

// A message's role and the text of its content (a string, or the "text" of each part).
void appendMessage(std::string& out, const json& m) {
  if (!m.is_object()) return;
  if (const auto role = m.find("role"); role != m.end() && role->is_string())
    appendField(out, role->get_ref<const std::string&>());
  const auto content = m.find("content");
  if (content == m.end()) return;
  if (content->is_string()) return appendField(out, content->get_ref<const std::string&>());
  if (!content->is_array()) return;
  for (const auto& part : *content) {
    if (!part.is_object()) continue;
    if (const auto t = part.find("text"); t != part.end() && t->is_string()) appendField(out, t->get_ref<const std::string&>());
  }
}

}  // namespace

uint64_t affinityKey(std::string_view path, const std::string& model, const json& body) {
  std::string prefix = model + '\n';
  if (path == "/v1/chat/completions") {
    const auto messages = body.find("messages");
    if (messages == body.end() || !messages->is_array()) return 0;
    bool sawUser = false;
    for (const auto& m : *messages) {
      appendMessage(prefix, m);
      const auto role = m.is_object() ? m.find("role") : m.end();
      if (m.is_object() && role != m.end() && role->is_string() && *role == "user") {
        sawUser = true;
        break;
      }
    }
    if (!sawUser) return 0;
  } else if (path == "/v1/completions") {
    const auto it = body.find("prompt");
    if (it == body.end()) return 0;
    const auto& p = *it;
    if (!p.is_string() || p.get_ref<const std::string&>().empty()) return 0;
    prefix += p.get_ref<const std::string&>().substr(0, 512);
  } else {
    return 0;
  }
  const uint64_t h = stableHash(prefix);
  return h == 0 ? 1 : h;
}

namespace {
Decision local(Action a) {
  Decision d;
  d.action = a;
  return d;
}
}  // namespace

std::optional<Decision> refuseBeforeBody(const IncomingRequest& req, const RouteContext& ctx) {
  const bool noKeys = !ctx.api_keys || ctx.api_keys->empty();
  if (noKeys && ctx.origins)
    if (auto why = refuseHostOrOrigin(req.method, req.host, req.origin, *ctx.origins))
      return errorDecision(403, "forbidden_origin", *why);
  const std::string_view path = pathOf(req.target);
  const bool get = req.method == "GET" || req.method == "HEAD";
  if ((path == "/health" || path == "/metrics" || path == "/livez" || path == "/readyz") && get) return std::nullopt;
  if (isAdminPath(path)) return refuseAdmin(req, ctx);
  const bool isApi = path.substr(0, 4) == "/v1/" || path.substr(0, 5) == "/api/";
  if (isApi && !authorized(req, ctx))
    return errorDecision(401, "invalid_api_key",
                         req.authorization.empty() ? "missing API key: send 'Authorization: Bearer <key>'"
                                                   : "incorrect API key provided");
  if (get && (path == "/v1/models" || path == "/api/status" || path == "/api/mesh")) return std::nullopt;
  if (requiredField(path)) {
    if (req.method != "POST") return errorDecision(405, "method_not_allowed", std::string(path) + " only accepts POST");
    return std::nullopt;
  }
  return errorDecision(404, "unknown_url", "unknown URL: " + std::string(req.method) + " " + std::string(path));
}

Decision route(const IncomingRequest& req, const RouteContext& ctx) {
  if (auto refused = refuseBeforeBody(req, ctx)) return std::move(*refused);
  const std::string_view path = pathOf(req.target);
  if (path == "/health") return local(Action::Health);
  if (path == "/livez") return local(Action::Livez);
  if (path == "/readyz") return local(Action::Readyz);
  if (path == "/metrics") return local(Action::Metrics);
  if (path == "/v1/models") return local(Action::Models);
  if (path == "/api/status") return local(Action::ApiStatus);
  if (path == "/api/mesh") return local(Action::ApiMesh);
  if (isAdminPath(path)) return local(Action::Admin);
  return forward(req, ctx, path);
}

}  // namespace qmesh::router
