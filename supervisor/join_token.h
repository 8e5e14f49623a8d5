// Where `qmesh-supervisor start` takes an invite token from. The token holds the mesh key,
// so it never sits in argv (world-readable in `ps` and /proc/PID/cmdline):
//   --join-file PATH   the first non-blank line of PATH
//   --join -           the first line of stdin
//   $QMESH_JOIN        when neither flag is given
// `--join TOKEN` with a token is refused, naming these three. mesh.join in the config file
// still works (the file is as private as the operator makes it).
#pragma once

#include <istream>
#include <optional>
#include <string>

#include "common/result.h"

namespace qmesh {

struct JoinFlags {
  std::optional<std::string> join;       // --join's value (only "-" is accepted)
  std::optional<std::string> join_file;  // --join-file
};

// The environment variable read when no flag is given; also the one the router child gets
// the token in, and which no other child inherits (child_process.cpp).
inline constexpr const char* kJoinEnv = "QMESH_JOIN";

// "" when no token was given anywhere. `env` is the value of $QMESH_JOIN, or null.
Result<std::string> resolveJoinToken(const JoinFlags& flags, std::istream& in, const char* env);

}  // namespace qmesh
