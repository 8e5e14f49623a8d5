// One HTTP request from the router to its supervisor's control API (loopback), for the
// console's admin actions: restart a worker, read a worker's log tail. The control token
// goes as a bearer on every call (the supervisor requires it on anything but GET).
#pragma once

#include <string>

#include "common/node_config.h"
#include "router/net.h"

namespace qmesh::router {

struct SupervisorReply {
  int status = 0;       // 0: no answer (refused, timed out): `body` says why
  std::string body;
};

net::awaitable<SupervisorReply> callSupervisor(net::any_io_executor ex, const HostPort& control, http::verb method,
                                               const std::string& target, const std::string& token);

}  // namespace qmesh::router
