// The router's names for Asio and Beast: common/net.h's, under qmesh::router too so that
// router::net::io_context and friends keep their spelling; plus the router's clock types.
#pragma once

#include <chrono>

#include "common/net.h"

namespace qmesh::router {

namespace net = qmesh::net;
namespace beast = qmesh::beast;
namespace http = qmesh::http;
using qmesh::awaitEc;
using qmesh::bsv;
using qmesh::error_code;
using qmesh::logEscapedException;
using qmesh::logExceptions;
using qmesh::sv;
using qmesh::tcp;

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

}  // namespace qmesh::router
