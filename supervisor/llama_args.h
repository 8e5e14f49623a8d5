// The llama-server command line for a model: one typed place that decides every flag.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/node_config.h"

namespace qmesh {

// Always binds 127.0.0.1: workers are reached through the router, never directly.
std::vector<std::string> buildLlamaServerArgs(const std::filesystem::path& binary,
                                              const ModelConfig& model, uint16_t port);

}  // namespace qmesh
