// The one place qmesh code includes Asio and Beast from, and the names it speaks them in.
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, so <utility>
// must come first. Targets that include this link qmesh_asio (common/CMakeLists.txt).
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <string_view>

namespace qmesh {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// Every awaited operation reports its error as a value: exceptions never cross the loop.
inline auto awaitEc(error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

// Beast 1.74 speaks boost::string_view; the rest of qmesh speaks std::string_view.
inline std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }
inline beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

// Completion for co_spawn'ed loops: an exception escaping one (a bug) is logged where it
// happened instead of unwinding out of io_context::run and taking the process down.
void logEscapedException(const char* what, std::exception_ptr e);
inline auto logExceptions(const char* what) {
  return [what](std::exception_ptr e) { logEscapedException(what, e); };
}

}  // namespace qmesh
