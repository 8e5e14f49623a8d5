#include "router/proxy/routes.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "router/routing/selection_policy.h"

namespace qmesh::router {

using nlohmann::json;

std::string_view errorTypeFor(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 404: return "invalid_request_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string openaiError(std::string_view message, std::string_view type, std::string_view code) {
  json j = {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
  return j.dump();
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

bool authorized(const IncomingRequest& req, const RouteContext& ctx) {
  if (!ctx.api_keys || ctx.api_keys->empty()) return true;
  constexpr std::string_view bearer = "Bearer ";
  if (req.authorization.size() <= bearer.size() || req.authorization.substr(0, bearer.size()) != bearer)
    return false;
  const std::string_view key = req.authorization.substr(bearer.size());
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
  const json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return errorDecision(400, "invalid_json", "the request body is not valid JSON");
  if (!body.is_object()) return errorDecision(400, "invalid_json", "the request body must be a JSON object");
  const auto model = body.find("model");
  if (model == body.end() || !model->is_string() || model->get<std::string>().empty())
    return errorDecision(400, "missing_model", "you must provide a model parameter");
  const char* field = requiredField(path);
  if (!body.contains(field))
    return errorDecision(400, "missing_required_parameter", std::string("missing required parameter: '") + field + "'");
  if (std::string(field) == "messages" && !body[field].is_array())
    return errorDecision(400, "invalid_type", "'messages' must be an array");
  Decision d;
  d.model = model->get<std::string>();
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

}  // namespace

uint64_t affinityKey(std::string_view path, const std::string& model, const json& body) {
  std::string prefix = model + '\n';
  if (path == "/v1/chat/completions") {
    const auto& messages = body["messages"];
    bool sawUser = false;
    for (const auto& m : messages) {
      prefix += m.dump();
      if (m.is_object() && m.value("role", "") == "user") {
        sawUser = true;
        break;
      }
    }
    if (!sawUser) return 0;
  } else if (path == "/v1/completions") {
    const auto& p = body["prompt"];
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

Decision route(const IncomingRequest& req, const RouteContext& ctx) {
  const std::string_view path = pathOf(req.target);
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (path == "/health" && get) return local(Action::Health);
  if (path == "/metrics" && get) return local(Action::Metrics);
  const bool isApi = path.substr(0, 4) == "/v1/" || path.substr(0, 5) == "/api/";
  if (isApi && !authorized(req, ctx))
    return errorDecision(401, "invalid_api_key",
                         req.authorization.empty() ? "missing API key: send 'Authorization: Bearer <key>'"
                                                   : "incorrect API key provided");
  if (path == "/v1/models" && get) return local(Action::Models);
  if (path == "/api/status" && get) return local(Action::ApiStatus);
  if (path == "/api/mesh" && get) return local(Action::ApiMesh);
  if (requiredField(path)) {
    if (req.method != "POST") return errorDecision(405, "method_not_allowed", std::string(path) + " only accepts POST");
    return forward(req, ctx, path);
  }
  return errorDecision(404, "unknown_url", "unknown URL: " + std::string(req.method) + " " + std::string(path));
}

}  // namespace qmesh::router
