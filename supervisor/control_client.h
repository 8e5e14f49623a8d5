// What the CLI subcommands (status, stop, restart) use to talk to a running supervisor.
#pragma once

#include <string>

#include "common/node_config.h"

namespace qmesh {

struct ControlReply {
  bool reached = false;  // false: nothing answered at the control address
  long status = 0;
  std::string body;
  std::string error;
};

ControlReply controlRequest(const HostPort& control, const std::string& method,
                            const std::string& path, Millis timeout = Millis(3000));

}  // namespace qmesh
