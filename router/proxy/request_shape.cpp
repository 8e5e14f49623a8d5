#include "router/proxy/request_shape.h"

#include <nlohmann/json.hpp>

namespace qmesh::router {

namespace {

using nlohmann::json;

ShapeError wrongType(const std::string& field, const char* expected) {
  return {"invalid_type", "'" + field + "' must be " + expected};
}

// content: a string, null (an assistant turn with tool_calls) or an array of parts, each an
// object whose "text", when present, is a string.
std::optional<ShapeError> checkContent(const json& content, const std::string& where) {
  if (content.is_string() || content.is_null()) return std::nullopt;
  if (!content.is_array()) return wrongType(where, "a string or an array of content parts");
  for (std::size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!part.is_object()) return wrongType(at, "an object");
    if (const auto t = part.find("text"); t != part.end() && !t->is_string()) return wrongType(at + ".text", "a string");
  }
  return std::nullopt;
}

std::optional<ShapeError> checkMessages(const json& messages) {
  if (!messages.is_array()) return wrongType("messages", "an array");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return wrongType(at, "an object");
    const auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return wrongType(at + ".role", "a string");
    if (const auto c = m.find("content"); c != m.end())
      if (auto e = checkContent(*c, at + ".content")) return e;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ShapeError> checkRequestShape(const json& body, std::string_view field) {
  const auto model = body.find("model");
  if (model == body.end() || model->is_null() || (model->is_string() && model->get_ref<const std::string&>().empty()))
    return ShapeError{"missing_model", "you must provide a model parameter"};
  if (!model->is_string()) return wrongType("model", "a string");
  const std::string name(field);
  const auto value = body.find(name);
  if (value == body.end())
    return ShapeError{"missing_required_parameter", "missing required parameter: '" + name + "'"};
  if (name == "messages") {
    if (auto e = checkMessages(*value)) return e;
  } else if (!value->is_string() && !value->is_array()) {
    return wrongType(name, "a string or an array");
  }
  if (const auto stream = body.find("stream"); stream != body.end() && !stream->is_boolean() && !stream->is_null())
    return wrongType("stream", "a boolean");
  return std::nullopt;
}

}  // namespace qmesh::router
