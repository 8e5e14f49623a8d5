// One spawned child with exactly one owner: it is signalled as a process group and reaped by
// this object, and it dies with the supervisor even if the supervisor is SIGKILLed.
//
// Concurrency: not thread-safe; construct, signal and reap from the supervisor's event-loop
// thread. That thread must outlive the child: PR_SET_PDEATHSIG fires when the *thread* that
// forked exits, not the process.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace qmesh {

struct ExitStatus {
  int raw = 0;  // as from waitpid
  bool signaled() const;
  int code() const;    // exit code, or -1 when signaled
  int signal() const;  // signal number, or 0
  std::string describe() const;  // "exit code 1", "killed by signal 9 (SIGKILL)"
};

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is the executable path
    bool captureOutput = true;      // stdout+stderr into a pipe the owner reads
  };
  using Env = std::vector<std::pair<std::string, std::string>>;

  // `env` is set in the child's environment, over the inherited one. A secret the supervisor
  // may hold in its own environment (QMESH_JOIN) is never inherited: only set here, per child.
  static Result<ChildProcess> spawn(const Options& options, const Env& env = {});

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // A child still running here is SIGKILLed (whole group) and reaped: nothing outlives its owner.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // The read end of the output pipe; the caller takes ownership (-1 if not captured).
  int takeOutputFd();
  // Sends `sig` to the child's process group (it runs in its own group).
  void signalGroup(int sig) const;
  // Non-blocking reap; the status once the child has exited.
  std::optional<ExitStatus> tryReap();
  bool exited() const { return exit_.has_value(); }

 private:
  ChildProcess() = default;
  void killAndReap();

  pid_t pid_ = -1;
  int outputFd_ = -1;
  std::optional<ExitStatus> exit_;
};

}  // namespace qmesh
