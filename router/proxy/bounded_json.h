// JSON from clients, parsed with a nesting limit enforced while parsing: a body nested
// 200,000 levels deep is refused at its 65th bracket, with at most 64 levels of DOM built
// (and thrown away). The DOM parser itself is iterative, but destroying and dump()ing a deep
// value recurse, so no value deeper than the limit may ever be built.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace qmesh::router {

// Objects and arrays together; the body's own object is depth 1. OpenAI requests nest a
// handful of levels (messages -> content parts -> image_url); tool schemas a few more.
inline constexpr int kMaxJsonDepth = 64;

struct BoundedJson {
  enum class Outcome { Ok, Invalid, TooDeep };
  Outcome outcome = Outcome::Invalid;
  nlohmann::json value;  // discarded unless Ok
};

BoundedJson parseBoundedJson(std::string_view text, int maxDepth = kMaxJsonDepth);

}  // namespace qmesh::router
