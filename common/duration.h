// Durations as config files and messages write them: "250ms", "2s", "5m", "1h". Apart from
// yaml_util.h so that code which only prints a duration does not include yaml-cpp.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace qmesh {

// A bare number is an error (units matter); nullopt for anything else that is not
// <digits><ms|s|m|h> or that overflows.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
// The largest unit that divides d exactly: 120000 ms -> "2m".
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace qmesh
