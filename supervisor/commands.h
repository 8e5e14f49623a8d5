// The qmesh-supervisor subcommands, each returning its exit code (supervisor/exit_codes.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace qmesh {

// `joinToken`: from --join -/--join-file/$QMESH_JOIN (join_token.h), an invite token that
// overrides mesh.join (common/mesh_setup.h).
int runStart(const std::filesystem::path& config, const std::string& joinToken = "");
int runStatus(const std::filesystem::path& config, bool json);
int runStop(const std::filesystem::path& config);
// POST /drain (supervisor/node_drain.h), then waits until the supervisor has stopped.
int runDrain(const std::filesystem::path& config);
int runRestart(const std::filesystem::path& config, const std::string& child);
// POST /children/MODEL/load or /unload.
int runLoad(const std::filesystem::path& config, const std::string& model, bool load);
int runCheckConfig(const std::filesystem::path& config);
// Downloads the named URL models (all of them when `names` is empty) that are not on disk.
int runPull(const std::filesystem::path& config, const std::vector<std::string>& names);

// mesh_commands.cpp
enum class KeysAction { List, Generate, Install, Use, Remove };
int runInvite(const std::filesystem::path& config);
// `config` may be empty for Generate only; `key` is the KEY argument of install/use/remove.
int runKeys(const std::filesystem::path& config, KeysAction action, const std::string& key);

}  // namespace qmesh
