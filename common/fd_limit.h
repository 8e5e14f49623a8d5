// RLIMIT_NOFILE for a long-running qmesh process: the soft limit raised to the hard one.
//
// Why: Debian's default soft limit is 1,024 descriptors, while the hard limit is usually
// 524,288 (systemd) or at least 4,096. Every client connection, upstream connection,
// data-plane channel, push-pull connection and pending handshake holds one, so
// at 1,024 a modest flood (or just a busy node) makes accept() fail with EMFILE for
// everyone. Raising the soft limit needs no privilege. The per-source and overall caps on
// unauthenticated connections keep the count bounded either way; this gives them room.
#pragma once

#include <cstdint>
#include <string>

namespace qmesh {

struct FdLimit {
  uint64_t before = 0;  // the soft limit found
  uint64_t after = 0;   // the soft limit now (== before when it could not be raised)
  uint64_t hard = 0;
  std::string error;    // why getrlimit/setrlimit failed; empty on success
};

// The limits as they are (before == after), without changing them.
FdLimit currentFdLimit();
// Raises the soft RLIMIT_NOFILE to the hard limit (RLIM_INFINITY is capped at
// /proc/sys/fs/nr_open, which setrlimit would otherwise refuse).
FdLimit raiseFdLimit();
// raiseFdLimit(), then one info line (or a warning) in the log, naming `component`.
FdLimit raiseFdLimitAndLog(const char* component);

}  // namespace qmesh
