// Internal to the node config parser: helpers shared by node_config.cpp and the section
// parsers split out of it (node_config_mesh.cpp). Not for use outside common/.
#pragma once

#include <filesystem>
#include <string>

#include "common/node_config.h"
#include "common/yaml_util.h"

namespace qmesh::config_detail {

// "~/x" under $HOME; relative paths against `base` (the config file's folder).
std::filesystem::path resolveAgainst(const std::filesystem::path& base, const std::string& p);
// Reads map[key] as HOST:PORT into out when present; returns whether the key was given.
// `listen`: an address to bind, checked by parseListenAddress (an IP literal).
bool readHostPort(YamlReader& r, const YAML::Node& map, const std::string& path, const char* key,
                  HostPort& out, bool listen = false);

// models[].gguf and models[].sha256 (node_config_models.cpp): a path, builtin:NAME, or a URL
// with its digest, downloaded under <dataDir>/models/.
void parseModelSource(YamlReader& r, const YAML::Node& m, const std::string& path,
                      const std::filesystem::path& base, const std::filesystem::path& dataDir,
                      ModelConfig& out);

// mesh: needs node.data_dir (already parsed) for its default file paths.
void parseMesh(YamlReader& r, const YAML::Node& n, const std::filesystem::path& base,
               const NodeSection& node, MeshSection& out);
// After every section is parsed: mesh ports must not collide with the node's other ports.
void checkMeshPorts(YamlReader& r, const YAML::Node& root, const NodeConfig& c);

}  // namespace qmesh::config_detail
