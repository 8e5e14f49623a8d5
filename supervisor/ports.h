// Loopback port helpers used before spawning: pick a free port, or prove a fixed one is free
// so a busy port is a clear startup error instead of a crash-looping child.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace qmesh {

Result<uint16_t> pickFreeLoopbackPort();
// Binds host:port briefly (SO_REUSEADDR, as servers do); the error carries the errno text.
Status checkPortFree(const std::string& host, uint16_t port);

}  // namespace qmesh
