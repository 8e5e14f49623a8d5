// A process started by a test: output captured to a file, killed (whole process group) and
// reaped when the object dies, so no test leaves anything running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qmesh::test {

class TestProcess {
 public:
  // argv[0] is the program path. Extra env entries are added to the inherited environment.
  TestProcess(std::vector<std::string> argv, const std::filesystem::path& logFile,
              std::map<std::string, std::string> env = {});
  ~TestProcess();
  TestProcess(const TestProcess&) = delete;
  TestProcess& operator=(const TestProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit; the raw wait status, or nullopt on timeout.
  std::optional<int> waitExit(std::chrono::milliseconds timeout);
  // The exit code (or 128+signal) after waitExit succeeded.
  std::optional<int> exitCode() const;
  std::string output() const;
  bool waitForOutput(const std::string& needle, std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path log_;
};

// Runs a command to completion (with a deadline) and returns {exit code, output}.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult runCommand(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                         std::map<std::string, std::string> env = {});

// Every pid (other than `self`) whose parent is `parent`, read from /proc.
std::vector<pid_t> childrenOf(pid_t parent);
bool processExists(pid_t pid);  // false for zombies too: they are dead, only unreaped
std::string processState(pid_t pid);  // /proc/<pid>/stat state letter, "" if gone

}  // namespace qmesh::test
