// Where qmesh finds what the setup built: the packaged llama-server for this platform and
// the built-in models. QMESH_HOME overrides the tree baked in at build time.
#pragma once

#include <filesystem>
#include <string>

#include "common/result.h"

namespace qmesh {

std::filesystem::path qmeshHome();
std::string platformName();  // "linux-x64", "linux-arm64", ...

// `configured` (node.llama_server) wins when set; otherwise the packaged binary.
// A missing or non-executable binary is an error that names the fix.
Result<std::filesystem::path> resolveLlamaServer(const std::filesystem::path& configured);

constexpr const char* kBuiltinPrefix = "builtin:";
// "builtin:demo" -> <home>/third_party_bins/models/demo.gguf
std::filesystem::path builtinModelPath(const std::string& name);

}  // namespace qmesh
