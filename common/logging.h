// One spdlog setup for every qmesh process: operators get one line per event, in text or
// JSON (one object per line), always with the component and node name.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

// Every spdlog call formats through fmt::detail::vformat_to<char>, which fmt 9 defines in its
// header but does not declare `extern`: each file that logs compiled its own copy of the whole
// formatter (integer, float and dragon4 writers, ~0.5 MB of code, 40% of such a file's compile
// time under ASan). libfmt.so already exports that instantiation; this declaration makes every
// file that includes this header call it instead. Include this header, not <spdlog/spdlog.h>,
// to log. Not under clang (fuzz/): it mangles this one unlike the GCC that built libfmt.so.
#if FMT_VERSION >= 90000 && FMT_VERSION < 100000 && !defined(FMT_HEADER_ONLY) && !defined(__clang__)
FMT_BEGIN_NAMESPACE
namespace detail {
extern template FMT_API void vformat_to<char>(buffer<char>&, basic_string_view<char>,
                                               basic_format_args<FMT_BUFFER_CONTEXT(char)>,
                                               locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
#endif

namespace qmesh {

// level: trace|debug|info|warn|error; format: text|json. Logs go to stderr.
void initLogging(const std::string& component, const std::string& node, const std::string& level,
                 const std::string& format);

// Escapes a string for embedding in a JSON log line.
std::string jsonEscape(const std::string& s);

}  // namespace qmesh
