// ChildSupervisor after a child dies: restart with backoff, crash-loop detection in a window,
// the operator's reset, and launch failures; driven by a fake clock, launcher and prober.
#include "supervisor/child_supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "tests/supervisor/child_supervisor_fixture.h"

namespace qmesh::test {
namespace {

using namespace std::chrono_literals;
using std::chrono::hours;

class ChildSupervisorRestartTest : public ChildSupervisorTest {};

TEST_F(ChildSupervisorRestartTest, RestartsAfterCrashWithBackoff) {
  startReady();
  crash(exitedWith(1));
  EXPECT_EQ(sup().state(), ChildState::Restarting);
  EXPECT_EQ(launcher_.launches(), 1);
  EXPECT_TRUE(launcher_.signals().empty());  // it is gone already: nothing to signal

  EXPECT_TRUE(respawnsAfter(250ms));
  EXPECT_EQ(launcher_.launches(), 2);
  EXPECT_EQ(sup().state(), ChildState::Starting);
  // The new instance is polled at once, on its own port.
  ASSERT_EQ(prober_.count(), 2u);
  EXPECT_EQ(prober_.at(1).url, "http://127.0.0.1:40002/health");
}

TEST_F(ChildSupervisorRestartTest, BackoffGrowsWithRepeatedCrashesAndIsCappedAtMax) {
  s_.restart.backoff_max = 2000ms;
  s_.restart.max_restarts = 100;
  sup().start();
  for (Millis expected : {250ms, 500ms, 1000ms, 2000ms, 2000ms, 2000ms}) {
    crash(exitedWith(1));
    EXPECT_TRUE(respawnsAfter(expected)) << "expected " << expected.count() << " ms";
  }
}

TEST_F(ChildSupervisorRestartTest, BackoffJitterComesFromTheInjectedRandom) {
  random_.setFixed(0.0);  // factor 1 - jitter = 0.8
  sup().start();
  crash();
  EXPECT_TRUE(respawnsAfter(200ms));
}

TEST_F(ChildSupervisorRestartTest, BackoffStartsOverOnceTheChildWasReady) {
  sup().start();
  crash();
  ASSERT_TRUE(respawnsAfter(250ms));
  crash();
  ASSERT_TRUE(respawnsAfter(500ms));
  crash();
  ASSERT_TRUE(respawnsAfter(1000ms));
  sup().tick();
  prober_.answerLast(ok200());
  ASSERT_EQ(sup().state(), ChildState::Ready);
  crash();  // a server that served and then died comes back fast, even inside the window
  EXPECT_TRUE(respawnsAfter(250ms));
}

TEST_F(ChildSupervisorRestartTest, BackoffKeepsGrowingAcrossWindowsWhileTheChildNeverGetsReady) {
  s_.restart.max_restarts = 1;
  sup().start();
  // Crashes too far apart to be a crash loop, but the child never served in between.
  for (Millis expected : {250ms, 500ms, 1000ms, 2000ms}) {
    clock_.advance(s_.restart.window + 1ms);
    crash();
    ASSERT_EQ(sup().state(), ChildState::Restarting);
    EXPECT_TRUE(respawnsAfter(expected)) << "expected " << expected.count() << " ms";
  }
}

TEST_F(ChildSupervisorRestartTest, MarksFailedAfterMoreThanMaxRestartsWithinWindow) {
  sup().start();
  for (int i = 0; i < s_.restart.max_restarts; ++i) {
    crash(exitedWith(2));
    ASSERT_EQ(sup().state(), ChildState::Restarting) << "after crash " << i + 1;
    advance(kFifthBackoff);
    ASSERT_EQ(sup().state(), ChildState::Starting);
  }
  // Six crashes within 20 s: more than max_restarts (5) inside the 60 s window.
  crash(exitedWith(2));
  EXPECT_EQ(sup().state(), ChildState::Failed);
  EXPECT_EQ(sup().snapshot().restarts, 5);
  EXPECT_TRUE(Contains(sup().snapshot().last_exit, "exit code 2"));
  EXPECT_EQ(states_.back(), ChildState::Failed);

  const int launches = launcher_.launches();
  advance(hours(1));
  EXPECT_EQ(launcher_.launches(), launches);
  EXPECT_EQ(sup().state(), ChildState::Failed);
  EXPECT_FALSE(sup().finished());
}

TEST_F(ChildSupervisorRestartTest, MarksFailedEvenWhenTheChildGetsReadyBetweenCrashes) {
  sup().start();
  for (int i = 0; i <= s_.restart.max_restarts; ++i) {
    sup().tick();
    prober_.answerLast(ok200());
    ASSERT_EQ(sup().state(), ChildState::Ready);
    clock_.advance(1s);
    crash();
    if (i < s_.restart.max_restarts) {
      ASSERT_TRUE(respawnsAfter(250ms)) << "crash " << i + 1;
    }
  }
  EXPECT_EQ(sup().state(), ChildState::Failed);
}

TEST_F(ChildSupervisorRestartTest, CrashesSpreadBeyondTheWindowDoNotFail) {
  s_.restart.max_restarts = 2;
  sup().start();
  // A crash every 31 s (30 s of service, 1 s to come back): any 60 s window holds at most
  // two, which is not more than two.
  for (int i = 0; i < 12; ++i) {
    sup().tick();
    prober_.answerLast(ok200());
    ASSERT_EQ(sup().state(), ChildState::Ready);
    clock_.advance(30s);
    crash();
    ASSERT_EQ(sup().state(), ChildState::Restarting) << "crash " << i + 1;
    ASSERT_TRUE(respawnsAfter(250ms));
    clock_.advance(750ms);
  }
  EXPECT_EQ(launcher_.launches(), 13);
  EXPECT_EQ(sup().snapshot().restarts, 12);
}

TEST_F(ChildSupervisorRestartTest, CrashExactlyAtTheWindowEdgeStillCounts) {
  s_.restart.max_restarts = 1;
  sup().start();
  crash();
  ASSERT_TRUE(respawnsAfter(250ms));
  clock_.advance(s_.restart.window - 250ms);  // second crash exactly `window` after the first
  crash();
  EXPECT_EQ(sup().state(), ChildState::Failed);
}

TEST_F(ChildSupervisorRestartTest, ResetRestartsAFailedChild) {
  s_.restart.max_restarts = 0;  // the first crash is already a crash loop
  sup().start();
  crash();
  ASSERT_EQ(sup().state(), ChildState::Failed);

  sup().reset();
  EXPECT_EQ(sup().state(), ChildState::Starting);
  EXPECT_EQ(launcher_.launches(), 2);
  sup().tick();
  prober_.answerLast(ok200());
  EXPECT_EQ(sup().state(), ChildState::Ready);
}

TEST_F(ChildSupervisorRestartTest, ResetForgetsTheCrashLoopHistory) {
  sup().start();
  for (int i = 0; i <= s_.restart.max_restarts; ++i) {
    crash();
    advance(kFifthBackoff);
  }
  ASSERT_EQ(sup().state(), ChildState::Failed);
  sup().reset();
  crash();  // one crash after the reset is one restart, with the initial backoff
  EXPECT_TRUE(respawnsAfter(250ms));
}

TEST_F(ChildSupervisorRestartTest, ResetOfARunningChildTerminatesThenRestartsIt) {
  startReady();
  sup().reset();
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT}));
  EXPECT_EQ(sup().state(), ChildState::Restarting);
  crash(killedBy(SIGTERM));
  EXPECT_TRUE(Contains(sup().snapshot().last_exit, "restarted by the operator"));
  EXPECT_TRUE(respawnsAfter(250ms));
}

TEST_F(ChildSupervisorRestartTest, LaunchFailureIsTreatedAsCrash) {
  launcher_.failNextLaunches(1, "llama-server: no such file");
  sup().start();
  EXPECT_EQ(sup().state(), ChildState::Restarting);
  const ChildSnapshot snap = sup().snapshot();
  EXPECT_EQ(snap.pid, -1);
  EXPECT_EQ(snap.restarts, 1);
  EXPECT_EQ(snap.last_exit, "spawn failed: llama-server: no such file");
  sup().tick();
  EXPECT_EQ(prober_.count(), 0u) << "nothing to poll";

  EXPECT_TRUE(respawnsAfter(250ms));
  EXPECT_EQ(sup().state(), ChildState::Starting);
  EXPECT_EQ(launcher_.launches(), 1);
}

TEST_F(ChildSupervisorRestartTest, RepeatedLaunchFailuresEndFailed) {
  launcher_.failNextLaunches(1000, "exec failed");
  sup().start();
  for (int i = 0; i < 20; ++i) advance(kFifthBackoff);
  EXPECT_EQ(sup().state(), ChildState::Failed);
  EXPECT_EQ(launcher_.attempts(), s_.restart.max_restarts + 1);
}

}  // namespace
}  // namespace qmesh::test
