// How much memory a model takes once llama-server has loaded it, estimated from the GGUF
// header before anything is spawned, and the node's budget it must fit in
// (node.memory_budget). An estimate, not a measurement: it counts what dominates (the
// weights and the KV cache) and leaves out llama-server's compute buffers (tens of MiB).
#pragma once

#include <cstdint>
#include <string>

#include "common/gguf.h"
#include "common/result.h"

namespace qmesh {

struct MemoryEstimate {
  uint64_t weights = 0;   // the tensor data: llama-server maps all of it
  uint64_t kv_cache = 0;  // K and V, f16, for every layer and every position of the context
  uint64_t context = 0;   // the positions counted
  uint64_t total() const { return weights + kv_cache; }
};

// `ctxSize`: models[].ctx_size (0 = the model's own context length). llama-server's -c is
// the context of all slots together (each of the `parallel` slots gets ctx_size / parallel),
// so the KV cache is counted for ctx_size positions, not ctx_size x slots. Header values
// that are absent count as 0 (a model without attention metadata: weights only).
MemoryEstimate estimateModelMemory(const GgufMetadata& gguf, int64_t ctxSize);

// node.memory_budget as written: bytes (1073741824, 512MiB, 16GiB, 16G) or a share of the
// machine's RAM ("80%"). Zero of both = no budget.
struct MemoryBudget {
  uint64_t bytes = 0;
  double share = 0;  // 0 < share <= 1
  bool set() const { return bytes > 0 || share > 0; }
  uint64_t resolve(uint64_t ramBytes) const {
    return bytes ? bytes : static_cast<uint64_t>(static_cast<double>(ramBytes) * share);
  }
};
Result<MemoryBudget> parseMemoryBudget(const std::string& text);

// The machine's physical memory (sysconf), for a budget given as a share.
uint64_t physicalMemoryBytes();

}  // namespace qmesh
