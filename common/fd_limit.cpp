#include "common/fd_limit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/logging.h"

namespace qmesh {
namespace {

// The kernel's ceiling for RLIMIT_NOFILE; a hard limit of "unlimited" means this.
uint64_t nrOpen() {
  std::ifstream in("/proc/sys/fs/nr_open");
  uint64_t n = 0;
  return (in >> n) && n > 0 ? n : 1048576;
}

}  // namespace

// Fills `out` from getrlimit; false (with out.error) when it fails. `rl` keeps the raw limits.
static bool readFdLimit(rlimit& rl, FdLimit& out) {
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    out.error = std::string("getrlimit: ") + std::strerror(errno);
    return false;
  }
  out.before = out.after = rl.rlim_cur;
  out.hard = rl.rlim_max == RLIM_INFINITY ? nrOpen() : rl.rlim_max;
  return true;
}

FdLimit currentFdLimit() {
  FdLimit out;
  rlimit rl{};
  readFdLimit(rl, out);
  return out;
}

FdLimit raiseFdLimit() {
  FdLimit out;
  rlimit rl{};
  if (!readFdLimit(rl, out)) return out;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= out.hard) return out;
  rl.rlim_cur = out.hard;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    out.error = std::string("setrlimit: ") + std::strerror(errno);
    return out;
  }
  out.after = out.hard;
  return out;
}

FdLimit raiseFdLimitAndLog(const char* component) {
  const FdLimit l = raiseFdLimit();
  if (!l.error.empty())
    spdlog::warn("{}: could not raise the open-file limit from {} ({}); connections beyond it will fail",
                 component, l.before, l.error);
  else
    spdlog::info("{}: open-file limit {} (was {}, hard limit {})", component, l.after, l.before, l.hard);
  return l;
}

}  // namespace qmesh
