// What to do with one request, decided without I/O: answer locally (errors, /health, ...)
// or forward to a worker of a model. The session executes the decision.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qmesh::router {

struct IncomingRequest {
  std::string_view method;          // "GET", "POST", ...
  std::string_view target;          // path and query
  std::string_view authorization;   // the Authorization header, may be empty
  std::string_view body;
};

struct RouteContext {
  const std::vector<std::string>* api_keys = nullptr;  // empty or null = no authentication
  std::vector<std::string> models;                     // every model this node knows
};

enum class Action { Respond, Health, Models, Metrics, ApiStatus, Forward };

struct Decision {
  Action action = Action::Respond;
  // Respond: a finished answer (always an OpenAI-shaped error today).
  int status = 200;
  std::string code;  // the OpenAI error code of a Respond
  std::string body;
  // Forward: the model named in the body, whether the client asked for SSE.
  std::string model;
  bool stream = false;
};

Decision route(const IncomingRequest& req, const RouteContext& ctx);

// {"error":{"message":..,"type":..,"param":null,"code":..}} as OpenAI sends it.
std::string openaiError(std::string_view message, std::string_view type, std::string_view code);
// The type OpenAI uses for a status: invalid_request_error, authentication_error, ...
std::string_view errorTypeFor(int status);
Decision errorDecision(int status, std::string_view code, std::string_view message);

// The path without the query string.
std::string_view pathOf(std::string_view target);
// The client's x-request-id when it is sane (printable, <= 128 chars), else empty.
bool acceptableRequestId(std::string_view id);

}  // namespace qmesh::router
