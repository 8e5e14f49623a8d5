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

// `token`, when not empty, goes in `Authorization: Bearer` (control_token.h).
ControlReply controlRequest(const HostPort& control, const std::string& method,
                            const std::string& path, Millis timeout = Millis(3000),
                            const std::string& token = "");

// A POST to the supervisor of `config`, with the token from its data dir. When the token
// cannot be read the request still goes (so "not running" is told apart), and `token_error`
// says why a 401 came back.
struct ControlPostReply {
  ControlReply reply;
  std::string token_error;
  // 401/403: the message for the operator (names the token file and the fix); "" otherwise.
  std::string refusal() const;
};
ControlPostReply controlPost(const NodeConfig& config, const std::string& path);

}  // namespace qmesh
