#include "tests/support/test_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/test_env.h"

namespace qmesh::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TestProcess::TestProcess(std::vector<std::string> argv, const fs::path& logFile,
                         std::map<std::string, std::string> env)
    : log_(logFile) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> envStrings;
  for (char** e = environ; *e; ++e) {
    std::string s = *e;
    if (!env.count(s.substr(0, s.find('=')))) envStrings.push_back(s);
  }
  for (auto& [k, v] : env) envStrings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  const int fd = ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + logFile.string());
  const pid_t testPid = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);  // its own group, so the destructor can kill everything it started
    // A test binary that dies before its destructors run (a crash, SIGPIPE from `| head`, a
    // ctest timeout) takes its processes with it; a supervisor's own children follow through
    // their PDEATHSIG (supervisor/child_process.cpp). Fires when the forking *thread* ends:
    // tests start processes from the thread that owns them.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != testPid) ::_exit(127);  // the test died before prctl took effect
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(fd);
  if (pid_ < 0) throw std::runtime_error("fork failed");
  ::setpgid(pid_, pid_);
}

TestProcess::~TestProcess() {
  if (pid_ > 0 && !status_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  if (pid_ > 0) ::kill(-pid_, SIGKILL);  // stragglers left in its group
}

bool TestProcess::running() {
  if (status_) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

void TestProcess::signal(int sig) {
  if (!status_) ::kill(pid_, sig);
}

std::optional<int> TestProcess::waitExit(std::chrono::milliseconds timeout) {
  waitUntil([&] { return !running(); }, timeout, 10ms);
  return status_;
}

std::optional<int> TestProcess::exitCode() const {
  if (!status_) return std::nullopt;
  if (WIFEXITED(*status_)) return WEXITSTATUS(*status_);
  if (WIFSIGNALED(*status_)) return 128 + WTERMSIG(*status_);
  return std::nullopt;
}

std::string TestProcess::output() const {
  std::ifstream in(log_);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool TestProcess::waitForOutput(const std::string& needle, std::chrono::milliseconds timeout) {
  return waitUntil([&] { return output().find(needle) != std::string::npos; }, timeout, 20ms);
}

CommandResult runCommand(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                         std::map<std::string, std::string> env) {
  TempDir dir;
  TestProcess p(std::move(argv), dir / "out.log", std::move(env));
  CommandResult r;
  if (!p.waitExit(timeout)) {
    r.output = p.output() + "\n[runCommand: timed out]";
    return r;
  }
  r.exit_code = p.exitCode().value_or(-1);
  r.output = p.output();
  return r;
}

std::vector<pid_t> childrenOf(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != 'Z') out.push_back(std::stoi(name));
  }
  return out;
}

std::string processState(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return "";
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? "" : line.substr(close + 2, 1);
}

bool processExists(pid_t pid) {
  const std::string s = processState(pid);
  return !s.empty() && s != "Z" && s != "X";
}

}  // namespace qmesh::test
