#include "router/membership/boot_epoch.h"

#include <charconv>
#include <fstream>
#include <limits>
#include <optional>
#include <string>

#include "common/atomic_file.h"

namespace qmesh::membership {

namespace fs = std::filesystem;

namespace {

// A number and a newline; anything bigger is not our file.
constexpr std::uintmax_t kMaxFileBytes = 64;

Result<std::optional<uint64_t>> readLastEpoch(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec) && !ec) return std::optional<uint64_t>{};
  const auto size = fs::file_size(file, ec);
  std::string text;
  if (!ec && size <= kMaxFileBytes) {
    std::ifstream in(file, std::ios::binary);
    if (!in || !std::getline(in, text)) ec = std::make_error_code(std::errc::io_error);
  }
  if (ec)
    return makeError(file.string() + ": cannot read the boot counter (" + ec.message() +
                     "); fix its permissions, or delete it to start counting from the clock");
  uint64_t value = 0;
  const auto [end, parsed] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (size > kMaxFileBytes || text.empty() || parsed != std::errc() || end != text.data() + text.size() ||
      value == std::numeric_limits<uint64_t>::max())
    return makeError(file.string() + ": not a boot counter (expected one decimal number); delete it to start "
                     "counting from the clock");
  return std::optional<uint64_t>{value};
}

}  // namespace

fs::path bootEpochFileFor(const fs::path& identityFile) { return identityFile.parent_path() / "boot.epoch"; }

Result<uint64_t> nextBootEpoch(const fs::path& file, uint64_t now) {
  auto last = readLastEpoch(file);
  if (!last) return makeError(last.error().message);
  const uint64_t epoch = *last && **last >= now ? **last + 1 : now;
  // Synced: after a power cut the file must not fall back to an epoch we already sealed with.
  if (auto s = replaceFileAtomically(file, std::to_string(epoch) + "\n", Durability::kSynced); !s)
    return makeError(s.error().message + " (the boot counter; check the data dir's permissions)");
  return epoch;
}

}  // namespace qmesh::membership
