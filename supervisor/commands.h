// The qmesh-supervisor subcommands, each returning its exit code (supervisor/exit_codes.h).
#pragma once

#include <filesystem>
#include <string>

namespace qmesh {

int runStart(const std::filesystem::path& config);
int runStatus(const std::filesystem::path& config, bool json);
int runStop(const std::filesystem::path& config);
int runRestart(const std::filesystem::path& config, const std::string& child);
int runCheckConfig(const std::filesystem::path& config);

}  // namespace qmesh
