// One spawned child with one owner (supervisor/child_process.h), with real short-lived
// processes: exit codes, signal deaths, process groups, output capture, exec failure, and
// that nothing outlives its owner. Waits are deadlines on real state, never sleeps.
#include "supervisor/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>

#include "tests/support/test_env.h"
#include "tests/support/test_process.h"

namespace qmesh {
namespace {

using namespace std::chrono_literals;
using test::processExists;
using test::processState;
using test::waitUntil;

constexpr auto kDeadline = 10s;

ChildProcess spawnShell(const std::string& script, bool capture = false) {
  auto child = ChildProcess::spawn({{"/bin/sh", "-c", script}, capture});
  if (!child) throw std::runtime_error("spawn failed: " + child.error().message);
  return std::move(*child);
}

std::optional<ExitStatus> reapWithin(ChildProcess& child, std::chrono::milliseconds timeout) {
  std::optional<ExitStatus> status;
  waitUntil([&] { return (status = child.tryReap()).has_value(); }, timeout, 5ms);
  return status;
}

// Reads `fd` until EOF or until `until` appears, with a deadline; closes nothing.
std::string readOutput(int fd, const std::string& until = "",
                       std::chrono::milliseconds timeout = kDeadline) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!until.empty() && out.find(until) != std::string::npos) break;
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: every writer is gone
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// An fd with exactly one owner, for the pipe handed over by takeOutputFd().
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

TEST(ExitStatusTest, DescribesExitCodes) {
  const ExitStatus s{3 << 8};
  EXPECT_FALSE(s.signaled());
  EXPECT_EQ(s.code(), 3);
  EXPECT_EQ(s.signal(), 0);
  EXPECT_EQ(s.describe(), "exit code 3");
  EXPECT_EQ(ExitStatus{0}.describe(), "exit code 0");
}

TEST(ExitStatusTest, DescribesSignalDeath) {
  const ExitStatus s{SIGKILL};
  EXPECT_TRUE(s.signaled());
  EXPECT_EQ(s.code(), -1);
  EXPECT_EQ(s.signal(), 9);
  EXPECT_EQ(s.describe(), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(ExitStatus{SIGSEGV}.describe(), "killed by signal 11 (SIGSEGV)");
  EXPECT_EQ(ExitStatus{SIGTERM}.describe(), "killed by signal 15 (SIGTERM)");
}

TEST(ChildProcessTest, ReapsExitCode) {
  ChildProcess child = spawnShell("exit 3");
  const auto status = reapWithin(child, kDeadline);
  ASSERT_TRUE(status.has_value()) << "the child did not exit in time";
  EXPECT_EQ(status->code(), 3);
  EXPECT_FALSE(status->signaled());
  EXPECT_TRUE(child.exited());
  // Reaped once; asking again returns the same status and touches no other process.
  EXPECT_EQ(child.tryReap()->raw, status->raw);
  EXPECT_EQ(processState(child.pid()), "");
}

TEST(ChildProcessTest, TryReapOfARunningChildReturnsNothing) {
  ChildProcess child = spawnShell("exec sleep 100");
  EXPECT_FALSE(child.tryReap().has_value());
  EXPECT_FALSE(child.exited());
  EXPECT_TRUE(processExists(child.pid()));
}

TEST(ChildProcessTest, DescribesSignalDeath) {
  ChildProcess child = spawnShell("kill -KILL $$");
  const auto status = reapWithin(child, kDeadline);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->signaled());
  EXPECT_EQ(status->describe(), "killed by signal 9 (SIGKILL)");
}

TEST(ChildProcessTest, DestructorKillsAndReapsRunningChild) {
  pid_t pid = -1;
  {
    ChildProcess child = spawnShell("exec sleep 100");
    pid = child.pid();
    ASSERT_TRUE(processExists(pid));
  }
  // Not even a zombie: the destructor reaped it.
  EXPECT_EQ(processState(pid), "");
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(ChildProcessTest, DestructorKillsTheWholeGroup) {
  pid_t grandchild = -1;
  {
    ChildProcess child = spawnShell("sleep 100 & echo $!; wait", true);
    Fd out{child.takeOutputFd()};
    grandchild = std::stoi(readOutput(out.fd, "\n"));
    ASSERT_TRUE(processExists(grandchild));
  }
  EXPECT_TRUE(waitUntil([&] { return !processExists(grandchild); }, kDeadline, 5ms));
}

TEST(ChildProcessTest, MoveAssignmentKillsTheChildItReplaces) {
  ChildProcess first = spawnShell("exec sleep 100");
  const pid_t firstPid = first.pid();
  first = spawnShell("exec sleep 100");
  EXPECT_EQ(processState(firstPid), "");
  EXPECT_NE(first.pid(), firstPid);
  EXPECT_TRUE(processExists(first.pid()));
}

TEST(ChildProcessTest, SignalGroupReachesGrandchildren) {
  ChildProcess child = spawnShell("sleep 100 & echo $!; wait", true);
  Fd out{child.takeOutputFd()};
  const std::string line = readOutput(out.fd, "\n");
  ASSERT_NE(line.find('\n'), std::string::npos) << "no grandchild pid in: " << line;
  const pid_t grandchild = std::stoi(line);
  ASSERT_TRUE(processExists(grandchild));

  child.signalGroup(SIGKILL);
  // Both gone (the child a zombie until reaped, the grandchild reaped by whoever adopted it)
  // before tryReap, whose own clean-up kill would otherwise hide a signalGroup that missed.
  EXPECT_TRUE(waitUntil([&] { return !processExists(grandchild); }, kDeadline, 5ms));
  EXPECT_TRUE(waitUntil([&] { return !processExists(child.pid()); }, kDeadline, 5ms));
  const auto status = reapWithin(child, kDeadline);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->signal(), SIGKILL);
}

TEST(ChildProcessTest, ReapKillsWhatTheChildLeftInItsGroup) {
  ChildProcess child = spawnShell("sleep 100 & echo $!", true);
  Fd out{child.takeOutputFd()};
  const pid_t grandchild = std::stoi(readOutput(out.fd, "\n"));
  const auto status = reapWithin(child, kDeadline);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), 0);
  EXPECT_TRUE(waitUntil([&] { return !processExists(grandchild); }, kDeadline, 5ms));
}

TEST(ChildProcessTest, ChildRunsInItsOwnProcessGroup) {
  ChildProcess child = spawnShell("exec sleep 100");
  EXPECT_EQ(::getpgid(child.pid()), child.pid());
  EXPECT_NE(::getpgid(child.pid()), ::getpgrp());
}

TEST(ChildProcessTest, CapturesStdoutAndStderrInThePipe) {
  ChildProcess child = spawnShell("echo to-stdout; echo to-stderr >&2", true);
  Fd out{child.takeOutputFd()};
  ASSERT_GE(out.fd, 0);
  EXPECT_EQ(child.takeOutputFd(), -1) << "the fd has one owner";
  const std::string text = readOutput(out.fd);  // to EOF: the child's ends close when it exits
  EXPECT_NE(text.find("to-stdout\n"), std::string::npos) << text;
  EXPECT_NE(text.find("to-stderr\n"), std::string::npos) << text;
  ASSERT_TRUE(reapWithin(child, kDeadline).has_value());
}

TEST(ChildProcessTest, WithoutCaptureThereIsNoPipe) {
  ChildProcess child = spawnShell("exit 0", false);
  EXPECT_EQ(child.takeOutputFd(), -1);
  ASSERT_TRUE(reapWithin(child, kDeadline).has_value());
}

TEST(ChildProcessTest, StdinIsDevNullNotTheSupervisorsStdin) {
  // Give this process a stdin that never ends, so a child inheriting it would block in cat.
  int pipeFds[2];
  ASSERT_EQ(::pipe2(pipeFds, O_CLOEXEC), 0);
  const int savedStdin = ::dup(STDIN_FILENO);
  ASSERT_GE(savedStdin, 0);
  ::dup2(pipeFds[0], STDIN_FILENO);
  auto spawned = ChildProcess::spawn({{"/bin/sh", "-c", "cat; echo done"}, true});
  ::dup2(savedStdin, STDIN_FILENO);
  ::close(savedStdin);
  ::close(pipeFds[0]);
  Fd writeEnd{pipeFds[1]};
  ASSERT_TRUE(spawned.ok());
  Fd out{spawned->takeOutputFd()};
  EXPECT_EQ(readOutput(out.fd, "done\n", 5s), "done\n");
}

TEST(ChildProcessTest, ExecFailureExitsWith127AndSaysWhy) {
  auto spawned = ChildProcess::spawn({{"/nonexistent/qmesh-no-such-binary"}, true});
  ASSERT_TRUE(spawned.ok()) << "fork succeeds; exec fails in the child";
  ChildProcess child = std::move(*spawned);
  Fd out{child.takeOutputFd()};
  const std::string text = readOutput(out.fd);
  EXPECT_NE(text.find("qmesh: exec failed: No such file or directory"), std::string::npos)
      << text;
  const auto status = reapWithin(child, kDeadline);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), 127);
}

// The supervisor may hold the invite token in QMESH_JOIN; a llama-server must not get it.
TEST(ChildProcessTest, DoesNotInheritTheJoinTokenButKeepsTheRestOfTheEnvironment) {
  ::setenv("QMESH_JOIN", "qmesh1.secret", 1);
  ::setenv("QMESH_TEST_KEPT", "kept", 1);
  auto spawned = ChildProcess::spawn(
      {{"/bin/sh", "-c", "echo \"join=${QMESH_JOIN-unset} other=${QMESH_TEST_KEPT-unset}\""}, true});
  ::unsetenv("QMESH_JOIN");
  ::unsetenv("QMESH_TEST_KEPT");
  ASSERT_TRUE(spawned.ok());
  Fd out{spawned->takeOutputFd()};
  EXPECT_EQ(readOutput(out.fd), "join=unset other=kept\n");
}

TEST(ChildProcessTest, EnvOptionIsSetInThatChildOverTheInheritedValue) {
  ::setenv("QMESH_TEST_OVERRIDDEN", "parent", 1);
  auto spawned = ChildProcess::spawn(
      {{"/bin/sh", "-c", "echo \"$QMESH_JOIN $QMESH_TEST_OVERRIDDEN\""}, true},
      {{"QMESH_JOIN", "qmesh1.given"}, {"QMESH_TEST_OVERRIDDEN", "child"}});
  ::unsetenv("QMESH_TEST_OVERRIDDEN");
  ASSERT_TRUE(spawned.ok());
  Fd out{spawned->takeOutputFd()};
  EXPECT_EQ(readOutput(out.fd), "qmesh1.given child\n");
}

TEST(ChildProcessTest, EmptyCommandLineIsAnError) {
  auto spawned = ChildProcess::spawn({{}, true});
  ASSERT_FALSE(spawned.ok());
  EXPECT_NE(spawned.error().message.find("empty command line"), std::string::npos);
}

}  // namespace
}  // namespace qmesh
