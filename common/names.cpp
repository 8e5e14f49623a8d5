#include "common/names.h"

#include <algorithm>

namespace qmesh {

bool isValidName(std::string_view name) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (name.empty() || name.size() > kMaxNameLength || !alnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return alnum(c) || c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
  });
}

}  // namespace qmesh
