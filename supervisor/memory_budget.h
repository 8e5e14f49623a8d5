// node.memory_budget checked before anything is spawned: each model must fit alone, and the
// models loaded from the start (load: always) together. Models loaded on demand are checked
// again when they are loaded (NodeSupervisor::load).
// A budget that cannot hold them is a config error that names the models, their estimates
// (common/model_memory.h) and what to change, instead of a machine that swaps or an OOM
// kill under the first long prompt.
#pragma once

#include <map>
#include <string>

#include "common/gguf.h"
#include "common/node_config.h"
#include "common/result.h"

namespace qmesh {

// `models`: the GGUF metadata of every model, by name. `ramBytes` resolves a share.
Status checkMemoryBudget(const NodeConfig& config, const std::map<std::string, GgufMetadata>& models,
                         uint64_t ramBytes);

// "12.3 MiB (weights 10.0 MiB + KV cache 2.3 MiB for 2048 positions)", for check-config.
std::string describeEstimate(const MemoryEstimate& e);

}  // namespace qmesh
