#include "supervisor/memory_budget.h"

#include "supervisor/download_progress.h"

namespace qmesh {

std::string describeEstimate(const MemoryEstimate& e) {
  return formatBytes(e.total()) + " (weights " + formatBytes(e.weights) + " + KV cache " +
         formatBytes(e.kv_cache) + " for " + std::to_string(e.context) + " positions)";
}

Status checkMemoryBudget(const NodeConfig& c, const std::map<std::string, GgufMetadata>& models,
                         uint64_t ramBytes) {
  const MemoryBudget& b = c.node.memory_budget;
  if (!b.set()) return Ok{};
  const uint64_t budget = b.resolve(ramBytes);
  const std::string budgetText =
      "node.memory_budget (" + formatBytes(budget) +
      (b.share > 0 ? ", " + std::to_string(static_cast<int>(b.share * 100 + 0.5)) + "% of " + formatBytes(ramBytes) : "") + ")";
  uint64_t sum = 0;
  std::string all;
  for (size_t i = 0; i < c.models.size(); ++i) {
    const auto& m = c.models[i];
    auto it = models.find(m.name);
    if (it == models.end()) continue;  // not downloaded yet: checked again by `start`
    const MemoryEstimate e = estimateModelMemory(it->second, m.ctx_size);
    if (e.total() > budget)
      return makeError("models[" + std::to_string(i) + "] '" + m.name + "' needs about " + describeEstimate(e) +
                       ", more than " + budgetText + " alone: lower its ctx_size, use a smaller quantization, " +
                       "or raise the budget");
    if (m.on_demand) continue;  // loaded later, only if the budget has room then
    const uint64_t need = e.total() * static_cast<uint64_t>(m.replicas);  // each replica is a process
    sum += need;
    all += (all.empty() ? "" : ", ") + m.name + " " + formatBytes(need) +
           (m.replicas > 1 ? " (" + std::to_string(m.replicas) + " replicas)" : "");
  }
  if (sum > budget)
    return makeError("the models loaded from the start need about " + formatBytes(sum) + " together (" + all +
                     "), more than " + budgetText +
                     ": set load: on_demand on some, remove one, lower their ctx_size, or raise the budget");
  return Ok{};
}

}  // namespace qmesh
