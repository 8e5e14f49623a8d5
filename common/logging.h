// One spdlog setup for every qmesh process: operators get one line per event, in text or
// JSON (one object per line), always with the component and node name.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace qmesh {

// level: trace|debug|info|warn|error; format: text|json. Logs go to stderr.
void initLogging(const std::string& component, const std::string& node, const std::string& level,
                 const std::string& format);

// Escapes a string for embedding in a JSON log line.
std::string jsonEscape(const std::string& s);

}  // namespace qmesh
