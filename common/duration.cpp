#include "common/duration.h"

#include <charconv>
#include <cstdint>

namespace qmesh {

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data() || value < 0) return std::nullopt;
  const std::string_view unit(end, text.data() + text.size() - end);
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60 * 1000;
  else if (unit == "h") scale = 3600 * 1000;
  else return std::nullopt;
  if (value > INT64_MAX / scale) return std::nullopt;  // the multiplication would overflow
  return std::chrono::milliseconds(value * scale);
}

std::string formatDuration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 3600000 == 0 && ms != 0) return std::to_string(ms / 3600000) + "h";
  if (ms % 60000 == 0 && ms != 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0 && ms != 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace qmesh
