#include "common/model_memory.h"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cmath>

namespace qmesh {

MemoryEstimate estimateModelMemory(const GgufMetadata& g, int64_t ctxSize) {
  MemoryEstimate e;
  e.weights = g.tensor_bytes;
  e.context = ctxSize > 0 ? static_cast<uint64_t>(ctxSize) : g.context_length;
  const uint64_t heads = g.head_count;
  const uint64_t headsKv = g.head_count_kv ? g.head_count_kv : heads;  // no GQA: one KV head per head
  const uint64_t perHead = heads ? g.embedding_length / heads : 0;
  const uint64_t keyLen = g.key_length ? g.key_length : perHead;
  const uint64_t valueLen = g.value_length ? g.value_length : perHead;
  constexpr uint64_t kF16 = 2;  // llama-server's default cache type
  // Saturating: a corrupt header must not wrap into a small number that "fits".
  long double kv = static_cast<long double>(g.block_count) * e.context * headsKv * (keyLen + valueLen) * kF16;
  e.kv_cache = kv >= 1.8e19L ? UINT64_MAX / 2 : static_cast<uint64_t>(kv);
  return e;
}

Result<MemoryBudget> parseMemoryBudget(const std::string& text) {
  const std::string hint =
      "'" + text + "' is not a memory size: write bytes (17179869184, 16GiB, 512MiB) or a share of RAM (80%)";
  MemoryBudget b;
  double number = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(begin, end, number);
  if (ec != std::errc() || rest == begin || !std::isfinite(number) || number <= 0) return makeError(hint);
  const std::string unit(rest, end);
  if (unit == "%") {
    if (number > 100) return makeError("'" + text + "' is more than all of the RAM (at most 100%)");
    b.share = number / 100;
    return b;
  }
  static const std::pair<const char*, uint64_t> units[] = {
      {"", 1},          {"B", 1},          {"K", 1ull << 10}, {"KiB", 1ull << 10}, {"M", 1ull << 20},
      {"MiB", 1ull << 20}, {"G", 1ull << 30}, {"GiB", 1ull << 30}, {"T", 1ull << 40}, {"TiB", 1ull << 40}};
  for (const auto& [name, factor] : units)
    if (unit == name) {
      const long double bytes = static_cast<long double>(number) * factor;
      if (bytes < 1 || bytes > 1e18L) return makeError(hint);
      b.bytes = static_cast<uint64_t>(bytes);
      return b;
    }
  return makeError(hint);
}

uint64_t physicalMemoryBytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(size) : 0;
}

}  // namespace qmesh
