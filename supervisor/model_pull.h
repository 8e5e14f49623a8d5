// `qmesh-supervisor pull` and the download step of `start`: every model whose gguf is a URL
// and whose file is not on disk yet is fetched (supervisor/model_fetch.h), with a progress
// bar on a terminal and progress lines in the log. Blocking: runs before any event loop.
#pragma once

#include <string>
#include <vector>

#include "common/node_config.h"
#include "supervisor/model_fetch.h"

namespace qmesh {

// The supervisor exit code (supervisor/exit_codes.h) for a failed download.
int exitCodeFor(FetchFailure f);

// Downloads the URL models named in `names` (every URL model when empty) that are missing.
// Returns an exit code; a name that is not in the config is a usage error (2). Messages go
// to the log (spdlog), the bar to stderr when it is a terminal.
int pullModels(const NodeConfig& config, const std::vector<std::string>& names,
               const FetchOptions& options = {});

}  // namespace qmesh
