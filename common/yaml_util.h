// Typed reads from a yaml-cpp tree that report every problem with the file, line, key path
// and what to do, and collect them all so one run of check-config shows every mistake.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/duration.h"

namespace qmesh {

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  // Records "file:line: path: message" using the node's position (line 1-based).
  void fail(const YAML::Node& at, const std::string& path, const std::string& message);
  void failAtFile(const std::string& message);

  const std::vector<std::string>& errors() const { return errors_; }
  bool ok() const { return errors_.empty(); }

  // A mapping (or absent); reports keys not in `known`, naming the ones that are.
  bool expectMap(const YAML::Node& node, const std::string& path,
                 std::initializer_list<std::string_view> known);

  // Each reads node[key] into out when present, leaving the default otherwise.
  void read(const YAML::Node& map, const std::string& path, const char* key, std::string& out);
  void read(const YAML::Node& map, const std::string& path, const char* key, bool& out);
  void read(const YAML::Node& map, const std::string& path, const char* key, int64_t& out,
            int64_t min, int64_t max);
  void read(const YAML::Node& map, const std::string& path, const char* key, double& out,
            double min, double max);
  void read(const YAML::Node& map, const std::string& path, const char* key,
            std::vector<std::string>& out);
  // Durations are written "250ms", "2s", "5m", "1h" (a bare number is an error: units matter).
  void read(const YAML::Node& map, const std::string& path, const char* key,
            std::chrono::milliseconds& out, std::chrono::milliseconds min,
            std::chrono::milliseconds max);

  // The line (1-based) where map[key] is written, or of the map itself when absent.
  int lineOf(const YAML::Node& map, const char* key) const;
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

std::string joinPath(const std::string& parent, std::string_view key);

}  // namespace qmesh
