#include "supervisor/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

extern char** environ;

namespace qmesh {

namespace {

// Inherited by no child: the invite token holds the mesh key, and llama-server (or whatever
// it runs) has no business with it. A child that needs it gets it through Options::env.
constexpr const char* kNeverInherited[] = {"QMESH_JOIN"};

bool isNamed(const char* entry, std::string_view name) {
  return std::strncmp(entry, name.data(), name.size()) == 0 && entry[name.size()] == '=';
}

// "NAME=VALUE" strings: the parent's environment without kNeverInherited and without the
// names `extra` sets, then `extra`.
std::vector<std::string> childEnvironment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    bool drop = false;
    for (const char* name : kNeverInherited) drop = drop || isNamed(*e, name);
    for (const auto& [name, value] : extra) drop = drop || isNamed(*e, name);
    if (!drop) env.emplace_back(*e);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

}  // namespace

bool ExitStatus::signaled() const { return WIFSIGNALED(raw); }
int ExitStatus::code() const { return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1; }
int ExitStatus::signal() const { return WIFSIGNALED(raw) ? WTERMSIG(raw) : 0; }

std::string ExitStatus::describe() const {
  if (signaled()) {
    const char* abbrev = sigabbrev_np(signal());
    return "killed by signal " + std::to_string(signal()) +
           (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  return "exit code " + std::to_string(code());
}

Result<ChildProcess> ChildProcess::spawn(const Options& options, const Env& env) {
  if (options.argv.empty()) return makeError("nothing to spawn: empty command line");
  // Everything the child needs is prepared before fork: after fork only async-signal-safe calls.
  std::vector<std::string> argvCopy = options.argv;
  std::vector<char*> argv;
  for (auto& a : argvCopy) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envCopy = childEnvironment(env);
  std::vector<char*> envp;
  for (auto& e : envCopy) envp.push_back(e.data());
  envp.push_back(nullptr);

  int pipeFds[2] = {-1, -1};
  if (options.captureOutput && pipe2(pipeFds, O_CLOEXEC) != 0)
    return makeError(std::string("cannot create a pipe for the child's output: ") + strerror(errno));
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    if (pipeFds[0] >= 0) { ::close(pipeFds[0]); ::close(pipeFds[1]); }
    if (devnull >= 0) ::close(devnull);
    return makeError(std::string("fork failed: ") + strerror(err));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the supervisor died between fork and prctl
    // The supervisor blocks nothing we want the child to inherit; restore default dispositions.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) ::signal(s, SIG_DFL);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (pipeFds[1] >= 0) {
      dup2(pipeFds[1], STDOUT_FILENO);
      dup2(pipeFds[1], STDERR_FILENO);
    }
    execve(argv[0], argv.data(), envp.data());
    const char* msg = "qmesh: exec failed: ";
    (void)!write(STDERR_FILENO, msg, strlen(msg));
    // Not strerror(): it translates through gettext, whose locks another thread may have held
    // at fork; strerrordesc_np only reads a static table.
    const char* err = strerrordesc_np(errno);
    if (!err) err = "unknown error";
    (void)!write(STDERR_FILENO, err, strlen(err));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, so signalGroup works before the child runs
  if (devnull >= 0) ::close(devnull);
  ChildProcess child;
  child.pid_ = pid;
  if (pipeFds[1] >= 0) ::close(pipeFds[1]);
  child.outputFd_ = pipeFds[0];
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      outputFd_(std::exchange(other.outputFd_, -1)),
      exit_(std::move(other.exit_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    killAndReap();
    pid_ = std::exchange(other.pid_, -1);
    outputFd_ = std::exchange(other.outputFd_, -1);
    exit_ = std::move(other.exit_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { killAndReap(); }

void ChildProcess::killAndReap() {
  if (outputFd_ >= 0) ::close(std::exchange(outputFd_, -1));
  if (pid_ <= 0 || exit_) return;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_ = ExitStatus{status};
}

int ChildProcess::takeOutputFd() { return std::exchange(outputFd_, -1); }

void ChildProcess::signalGroup(int sig) const {
  if (pid_ > 0 && !exit_) ::kill(-pid_, sig);
}

std::optional<ExitStatus> ChildProcess::tryReap() {
  if (exit_ || pid_ <= 0) return exit_;
  // Peek first (WNOWAIT): while the child is an unreaped zombie its pid, and so its process
  // group id, cannot be reused, so killing what it left in its group hits nobody else.
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid != pid_)
    return std::nullopt;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  if (waitpid(pid_, &status, 0) == pid_) exit_ = ExitStatus{status};
  return exit_;
}

}  // namespace qmesh
