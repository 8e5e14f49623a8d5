#include "common/yaml_util.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace qmesh {

namespace {

std::string typeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "empty";
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    default: return "undefined";
  }
}

}  // namespace

std::string joinPath(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

void YamlReader::fail(const YAML::Node& at, const std::string& path, const std::string& message) {
  std::ostringstream out;
  out << file_;
  if (at.IsDefined() && at.Mark().line >= 0) out << ":" << at.Mark().line + 1;
  out << ": " << (path.empty() ? "" : path + ": ") << message;
  errors_.push_back(out.str());
}

void YamlReader::failAtFile(const std::string& message) { errors_.push_back(file_ + ": " + message); }

int YamlReader::lineOf(const YAML::Node& map, const char* key) const {
  if (map.IsMap() && map[key].IsDefined()) return map[key].Mark().line + 1;
  return map.IsDefined() ? map.Mark().line + 1 : 0;
}

bool YamlReader::expectMap(const YAML::Node& node, const std::string& path,
                           std::initializer_list<std::string_view> known) {
  if (!node.IsDefined() || node.IsNull()) return false;
  if (!node.IsMap()) {
    fail(node, path, "expected a mapping of keys, got " + typeName(node));
    return false;
  }
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    fail(kv.first, path, "unknown key '" + key + "' (known keys: " + list + ")");
  }
  return true;
}

void YamlReader::read(const YAML::Node& map, const std::string& path, const char* key,
                      std::string& out) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsScalar()) {
    fail(n, joinPath(path, key), "expected a string, got " + typeName(n));
    return;
  }
  out = n.Scalar();
}

void YamlReader::read(const YAML::Node& map, const std::string& path, const char* key, bool& out) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return;
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  if (s == "true" || s == "yes" || s == "on") {
    out = true;
  } else if (s == "false" || s == "no" || s == "off") {
    out = false;
  } else {
    fail(n, joinPath(path, key), "expected true or false, got " + typeName(n));
  }
}

void YamlReader::read(const YAML::Node& map, const std::string& path, const char* key,
                      int64_t& out, int64_t min, int64_t max) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return;
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    fail(n, joinPath(path, key), "expected a whole number, got " + typeName(n));
    return;
  }
  if (v < min || v > max) {
    fail(n, joinPath(path, key),
         std::to_string(v) + " is out of range (" + std::to_string(min) + " to " +
             std::to_string(max) + ")");
    return;
  }
  out = v;
}

void YamlReader::read(const YAML::Node& map, const std::string& path, const char* key,
                      double& out, double min, double max) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return;
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  char* end = nullptr;
  const double v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) {
    fail(n, joinPath(path, key), "expected a number, got " + typeName(n));
    return;
  }
  if (!(v >= min && v <= max)) {  // written so NaN ("nan" parses) is out of range too
    std::ostringstream msg;
    msg << s << " is out of range (" << min << " to " << max << ")";
    fail(n, joinPath(path, key), msg.str());
    return;
  }
  out = v;
}

void YamlReader::read(const YAML::Node& map, const std::string& path, const char* key,
                      std::vector<std::string>& out) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsSequence()) {
    fail(n, joinPath(path, key), "expected a list, got " + typeName(n));
    return;
  }
  out.clear();
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      fail(n[i], joinPath(path, key) + "[" + std::to_string(i) + "]",
           "expected a string, got " + typeName(n[i]));
      continue;
    }
    out.push_back(n[i].Scalar());
  }
}

void YamlReader::read(const YAML::Node& map, const std::string& path, const char* key,
                      std::chrono::milliseconds& out, std::chrono::milliseconds min,
                      std::chrono::milliseconds max) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return;
  const auto d = n.IsScalar() ? parseDuration(n.Scalar()) : std::nullopt;
  if (!d) {
    fail(n, joinPath(path, key),
         "expected a duration such as 250ms, 2s, 5m or 1h, got " + typeName(n));
    return;
  }
  if (*d < min || *d > max) {
    fail(n, joinPath(path, key),
         n.Scalar() + " is out of range (" + formatDuration(min) + " to " + formatDuration(max) +
             ")");
    return;
  }
  out = *d;
}

}  // namespace qmesh
