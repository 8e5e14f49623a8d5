#include "tests/integration/soak/soak_procs.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/test_process.h"

namespace qmesh::test::soak {

namespace fs = std::filesystem;

namespace {

std::string procPath(pid_t pid, const char* leaf) { return "/proc/" + std::to_string(pid) + "/" + leaf; }

// The fields of /proc/PID/stat after "(comm) ": state is [0], ppid [1], starttime [19].
std::vector<std::string> statFields(pid_t pid) {
  std::ifstream in(procPath(pid, "stat"));
  std::string line;
  if (!std::getline(in, line)) return {};
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return {};
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> out;
  for (std::string f; rest >> f;) out.push_back(f);
  return out;
}

}  // namespace

std::string commOf(pid_t pid) {
  std::ifstream in(procPath(pid, "comm"));
  std::string s;
  std::getline(in, s);
  return s;
}

uint64_t startTimeOf(pid_t pid) {
  const auto f = statFields(pid);
  return f.size() > 19 ? std::stoull(f[19]) : 0;
}

pid_t parentOf(pid_t pid) {
  const auto f = statFields(pid);
  return f.size() > 1 ? std::stoi(f[1]) : -1;
}

bool isZombie(pid_t pid) {
  const auto f = statFields(pid);
  return !f.empty() && (f[0] == "Z" || f[0] == "X");
}

bool stillSame(const ProcId& p) {
  return p.valid() && processExists(p.pid) && startTimeOf(p.pid) == p.startTime;
}

bool signalIfSame(const ProcId& p, int sig) { return stillSame(p) && ::kill(p.pid, sig) == 0; }

ProcId childNamed(pid_t parent, const std::string& comm) {
  if (parent <= 0) return {};
  for (pid_t c : childrenOf(parent))
    if (commOf(c) == comm) {
      const uint64_t t = startTimeOf(c);
      if (t) return {c, t};
    }
  return {};
}

int openFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (fs::directory_iterator it(procPath(pid, "fd"), ec), end; !ec && it != end; it.increment(ec)) ++n;
  return ec ? -1 : n;
}

long rssKb(pid_t pid) {
  std::ifstream in(procPath(pid, "status"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

std::vector<pid_t> processesWithMarker(const std::string& marker) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(it->path() / "environ", std::ios::binary);
    bool marked = false;
    for (std::string var; !marked && std::getline(in, var, '\0');) marked = var == marker;
    const pid_t pid = std::stoi(name);
    if (marked && !isZombie(pid) && processExists(pid)) out.push_back(pid);
  }
  return out;
}

std::vector<std::string> orphans(const std::string& marker, const std::vector<pid_t>& supervisors) {
  const auto ours = [&](pid_t p) { return std::find(supervisors.begin(), supervisors.end(), p) != supervisors.end(); };
  std::vector<std::string> out;
  for (pid_t p : processesWithMarker(marker)) {
    const pid_t parent = parentOf(p);
    if (ours(p) || ours(parent) || parent < 0) continue;  // parent < 0: it exited just now
    out.push_back(std::to_string(p) + " (" + commOf(p) + ") parent " + std::to_string(parent));
  }
  return out;
}

}  // namespace qmesh::test::soak
