// What the chaos soak reads about processes from /proc: the supervisor's children by program,
// a process's identity across pid reuse, its open descriptors and resident memory, and every
// process that belongs to one soak run (found by an environment marker, not by name, so a
// developer's own qmesh or llama-server processes are never counted or killed).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qmesh::test::soak {

// A process as seen once: pid plus its start time (clock ticks since boot), so a signal
// meant for a process that has since exited never reaches a new process given the same pid.
struct ProcId {
  pid_t pid = -1;
  uint64_t startTime = 0;
  bool valid() const { return pid > 0; }
};

std::string commOf(pid_t pid);      // /proc/PID/comm ("" when gone)
uint64_t startTimeOf(pid_t pid);    // 0 when gone
pid_t parentOf(pid_t pid);          // -1 when gone
bool isZombie(pid_t pid);
bool stillSame(const ProcId& p);    // alive (not a zombie) and not replaced by a reused pid
// Sends `sig` only if `p` is still the same process; whether it was sent.
bool signalIfSame(const ProcId& p, int sig);

// The live child of `parent` whose comm is `comm` ("llama-server", "qmesh-router"), if one.
ProcId childNamed(pid_t parent, const std::string& comm);

int openFds(pid_t pid);       // entries of /proc/PID/fd, -1 when gone
long rssKb(pid_t pid);        // VmRSS of /proc/PID/status, -1 when gone

// Every live (non-zombie) process whose initial environment holds `marker` ("NAME=VALUE").
std::vector<pid_t> processesWithMarker(const std::string& marker);

// The processes of a run that are orphaned: marked, alive, not one of `supervisors`, and
// whose parent is not one of `supervisors` either (a child of a supervisor that died, or a
// grandchild nobody reaps). One line each: "pid (comm) parent PPID".
std::vector<std::string> orphans(const std::string& marker, const std::vector<pid_t>& supervisors);

}  // namespace qmesh::test::soak
