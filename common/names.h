// The rule for node and model names: letters, digits, . _ : / -, starting with a letter or
// digit, at most 128 bytes. Such a name is safe as it is in a log line, a JSON string, a
// Prometheus label and a file name. Config names are checked against it at startup, and
// names other nodes gossip (node, model, version) are held to it before anything uses them.
#pragma once

#include <cstddef>
#include <string_view>

namespace qmesh {

inline constexpr std::size_t kMaxNameLength = 128;

bool isValidName(std::string_view name);

}  // namespace qmesh
