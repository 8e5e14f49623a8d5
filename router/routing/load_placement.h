// Where in the mesh to load a model that is loaded nowhere (issue 10, part 3), and what this
// node tells the mesh about its own room for loads. Pure: reads the worker directory only.
//
// Gossip says, per node and model, whether it is loaded (a worker starting, loading or
// ready), loadable (listed with every worker `unloaded`: its file is on that node, and that
// node's config check made sure it fits its memory budget alone, evicting idle models if it
// must) or absent (not listed). Each node also gossips its free memory budget and its loads
// in progress (node_meta.h).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "router/routing/worker_directory.h"

namespace qmesh::router {

// No node.memory_budget: as much room as anyone (the gossiped 0xffffffff).
inline constexpr uint64_t kUnboundedMiB = 0xffffffff;

struct LoadCandidate {
  std::string node;
  bool loading = false;            // the model is already starting or loading there
  uint64_t freeMemoryMiB = 0;      // kUnboundedMiB: no budget
  int loadsInProgress = 0;         // of any model, there
};

// The node to ask: one already loading the model (a second load elsewhere would only take
// memory while the first finishes), else the most free budget, then the fewest loads in
// progress, then the name, so every router of the mesh picks the same node. nullopt: none.
std::optional<std::size_t> chooseNodeToLoad(std::span<const LoadCandidate> candidates);

// The other nodes where `model` is loadable or on its way, one entry each, from the
// directory: alive (a suspect's workers are `unknown`), not held unreachable, and every
// worker of it there unloaded, or one starting or loading. `worker`: one of its workers
// there, whose node's data address the load request goes to.
struct RemoteLoadSite {
  LoadCandidate candidate;
  WorkerPtr worker;
};
std::vector<RemoteLoadSite> remoteLoadSites(const WorkerDirectory& directory, const std::string& model, TimePoint now);

// What this node gossips: node.memory_budget minus what its resident models take (a process
// runs, or an unloaded one has not exited yet), in MiB rounded down; kUnboundedMiB without a
// budget. And its workers starting or loading now.
uint64_t localFreeMemoryMiB(const WorkerDirectory& directory);
int localLoadsInProgress(const WorkerDirectory& directory);

}  // namespace qmesh::router
