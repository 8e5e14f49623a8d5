// What to do with one request, decided without I/O: answer locally (errors, /health, ...)
// or forward to a worker of a model. The session executes the decision.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "router/proxy/origin_guard.h"

namespace qmesh::router {

struct IncomingRequest {
  std::string_view method;          // "GET", "POST", ...
  std::string_view target;          // path and query
  std::string_view authorization;   // the Authorization header, may be empty
  std::string_view body;
  std::string_view host;            // the Host header, may be empty
  std::string_view origin;          // the Origin header, may be empty
};

struct RouteContext {
  const std::vector<std::string>* api_keys = nullptr;  // empty or null = no authentication
  std::vector<std::string> models;                     // every model this node knows
  // Host and Origin checks when there are no API keys (see origin_guard.h); null = none
  // (mesh hops: the data-plane handshake authenticated the sender).
  const OriginPolicy* origins = nullptr;
  const std::vector<std::string>* admin_keys = nullptr;  // router.admin_keys (console/admin_access.h)
};

enum class Action { Respond, Health, Models, Metrics, ApiStatus, ApiMesh, Forward, Livez, Readyz, Admin };

struct Decision {
  Action action = Action::Respond;
  // Respond: a finished answer (always an OpenAI-shaped error today).
  int status = 200;
  std::string code;  // the OpenAI error code of a Respond
  std::string body;
  // Forward: the model named in the body, whether the client asked for SSE.
  std::string model;
  bool stream = false;
  uint64_t affinity = 0;  // prefix-affinity key (see affinityKey), 0 = none
};

Decision route(const IncomingRequest& req, const RouteContext& ctx);

// Everything route() can refuse from the header alone (Host/Origin, API key, unknown path,
// wrong method), so the session answers before reading a body nobody will use. nullopt:
// read the body, then route().
std::optional<Decision> refuseBeforeBody(const IncomingRequest& req, const RouteContext& ctx);

// The conversation prefix every later turn of a chat repeats — the messages up to and
// including the first user message, as role and content text (never a dump() of what the
// client sent) — or the first 512 bytes of a completion prompt, hashed with the model. 0 when
// there is none (embeddings, odd bodies).
uint64_t affinityKey(std::string_view path, const std::string& model, const nlohmann::json& body);

// {"error":{"message":..,"type":..,"param":null,"code":..}} as OpenAI sends it.
std::string openaiError(std::string_view message, std::string_view type, std::string_view code);
// The type OpenAI uses for a status: invalid_request_error, authentication_error, ...
std::string_view errorTypeFor(int status);
Decision errorDecision(int status, std::string_view code, std::string_view message);

// The KEY of "Bearer KEY" ("Bearer" in any case); empty when it is not that.
std::string_view bearerToken(std::string_view authorization);

// The path without the query string.
std::string_view pathOf(std::string_view target);
// The client's x-request-id when it is sane (printable, <= 128 chars), else empty.
bool acceptableRequestId(std::string_view id);

}  // namespace qmesh::router
