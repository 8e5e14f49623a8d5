// The fields of an OpenAI request body the router itself reads (model, stream, messages,
// prompt, input), checked for type before anything touches them: a value of the wrong type
// is a 400 naming the field, never an exception. Everything else is llama-server's to check.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace qmesh::router {

struct ShapeError {
  std::string code;  // OpenAI error code: missing_model, missing_required_parameter, invalid_type
  std::string message;
};

// `body` is an object; `field` the endpoint's required field ("messages", "prompt", "input").
std::optional<ShapeError> checkRequestShape(const nlohmann::json& body, std::string_view field);

}  // namespace qmesh::router
