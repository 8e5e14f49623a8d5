// The child state machine (supervisor/child_supervisor.h) from spawn to ready, through
// unhealthy and hung, to a graceful stop; driven entirely by a fake clock, launcher and prober,
// with every deadline checked one millisecond before and at the moment it falls due.
// Restarts, backoff and the crash loop are in child_supervisor_restart_test.cpp.
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

TEST_F(ChildSupervisorTest, StartsInStartingAndPollsHealthImmediately) {
  EXPECT_EQ(sup().state(), ChildState::Stopped);
  sup().start();
  EXPECT_EQ(sup().state(), ChildState::Starting);
  EXPECT_EQ(launcher_.launches(), 1);

  sup().tick();  // no time has passed
  ASSERT_EQ(prober_.count(), 1u);
  EXPECT_EQ(prober_.at(0).url, "http://127.0.0.1:40001/health");
  EXPECT_EQ(prober_.at(0).timeout, s_.health.timeout);

  advance(10s);  // one poll in flight at a time, however long it takes
  EXPECT_EQ(prober_.count(), 1u);
}

// A router bound to one address (router.listen: 192.0.2.7:8080, [2001:db8::7]:8080) does not
// answer on 127.0.0.1: the poll goes where the child listens.
TEST_F(ChildSupervisorTest, PollsHealthOnTheAddressTheChildListensOn) {
  launcher_.answerOn("2001:db8::7");
  sup().start();
  sup().tick();
  ASSERT_EQ(prober_.count(), 1u);
  EXPECT_EQ(prober_.at(0).url, "http://[2001:db8::7]:40001/health");
}

TEST_F(ChildSupervisorTest, BecomesLoadingOn503ThenReadyOn200) {
  sup().start();
  sup().tick();
  prober_.answerLast(loading503());
  EXPECT_EQ(sup().state(), ChildState::Loading);

  // While starting, polls come every 100 ms, not every health.interval.
  advance(99ms);
  EXPECT_EQ(prober_.count(), 1u);
  advance(1ms);
  ASSERT_EQ(prober_.count(), 2u);
  prober_.answerLast(loading503());
  EXPECT_EQ(sup().state(), ChildState::Loading);

  advance(100ms);
  ASSERT_EQ(prober_.count(), 3u);
  prober_.answerLast(ok200());
  EXPECT_EQ(sup().state(), ChildState::Ready);

  // Once ready, the steady interval applies.
  advance(999ms);
  EXPECT_EQ(prober_.count(), 3u);
  advance(1ms);
  EXPECT_EQ(prober_.count(), 4u);
}

TEST_F(ChildSupervisorTest, StartingGoesStraightToReadyOn200) {
  sup().start();
  sup().tick();
  prober_.answerLast(ok200());
  EXPECT_EQ(sup().state(), ChildState::Ready);
}

TEST_F(ChildSupervisorTest, RefusedConnectionsDuringStartupDoNotCountAsFailures) {
  sup().start();
  sup().tick();
  for (int i = 0; i < 10 * s_.health.failure_threshold; ++i) {
    prober_.answerLast(i % 2 ? refused() : timedOut());
    EXPECT_EQ(sup().state(), ChildState::Starting);
    EXPECT_EQ(sup().snapshot().consecutive_failures, 0);
    advance(100ms);
  }
  EXPECT_TRUE(launcher_.signals().empty());
  prober_.answerLast(loading503());
  advance(100ms);
  prober_.answerLast(refused());  // a refused poll while loading does not count either
  EXPECT_EQ(sup().state(), ChildState::Loading);
  EXPECT_EQ(sup().snapshot().consecutive_failures, 0);
  advance(100ms);
  prober_.answerLast(ok200());
  EXPECT_EQ(sup().state(), ChildState::Ready);
  EXPECT_TRUE(launcher_.signals().empty());
}

TEST_F(ChildSupervisorTest, HungChildIsTerminatedAfterThresholdConsecutiveFailedPolls) {
  startReady();
  pollAnswer(timedOut());
  EXPECT_EQ(sup().state(), ChildState::Unhealthy);
  pollAnswer(timedOut());
  EXPECT_EQ(sup().state(), ChildState::Unhealthy);
  EXPECT_EQ(sup().snapshot().consecutive_failures, 2);
  EXPECT_TRUE(launcher_.signals().empty());

  pollAnswer(timedOut());  // the third: hung
  // SIGCONT too: a SIGSTOPped server cannot act on SIGTERM until it runs again.
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT}));
  EXPECT_EQ(sup().state(), ChildState::Restarting);

  // No polls of a child being terminated; SIGKILL only once stop_grace has passed.
  const size_t probes = prober_.count();
  advance(s_.stop_grace - 1ms);
  EXPECT_EQ(launcher_.signals().size(), 2u);
  EXPECT_EQ(prober_.count(), probes);
  advance(1ms);
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT, SIGKILL}));
  advance(10s);
  EXPECT_EQ(launcher_.signals().size(), 3u) << "SIGKILL is sent once";
  EXPECT_EQ(launcher_.launches(), 1) << "no spawn before the hung instance is reaped";

  crash(killedBy(SIGKILL));
  EXPECT_EQ(sup().state(), ChildState::Restarting);
  const std::string lastExit = sup().snapshot().last_exit;
  EXPECT_TRUE(Contains(lastExit, "hung: 3 consecutive failed health polls"));
  EXPECT_TRUE(Contains(lastExit, "killed by signal 9 (SIGKILL)"));
  EXPECT_TRUE(respawnsAfter(250ms));
  EXPECT_EQ(sup().state(), ChildState::Starting);
}

TEST_F(ChildSupervisorTest, HungChildThatExitsOnSigtermIsNotSigkilled) {
  startReady();
  for (int i = 0; i < s_.health.failure_threshold; ++i) pollAnswer(error500());
  ASSERT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT}));
  clock_.advance(100ms);
  crash(killedBy(SIGTERM));
  advance(s_.stop_grace * 2);
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT}));
}

TEST_F(ChildSupervisorTest, SingleFailedPollMakesUnhealthyAndRecoversOnNextSuccess) {
  startReady();
  pollAnswer(error500());
  EXPECT_EQ(sup().state(), ChildState::Unhealthy);
  EXPECT_EQ(sup().snapshot().consecutive_failures, 1);

  pollAnswer(ok200());
  EXPECT_EQ(sup().state(), ChildState::Ready);
  EXPECT_EQ(sup().snapshot().consecutive_failures, 0);
  EXPECT_TRUE(launcher_.signals().empty());
}

TEST_F(ChildSupervisorTest, FailuresSeparatedBySuccessesNeverAddUpToHung) {
  startReady();
  for (int i = 0; i < 10; ++i) {
    for (int f = 0; f < s_.health.failure_threshold - 1; ++f) pollAnswer(refused());
    EXPECT_EQ(sup().state(), ChildState::Unhealthy);
    pollAnswer(ok200());
    EXPECT_EQ(sup().state(), ChildState::Ready);
  }
  EXPECT_TRUE(launcher_.signals().empty());
  EXPECT_EQ(launcher_.launches(), 1);
}

TEST_F(ChildSupervisorTest, NotReadyWithinStartupTimeoutIsRestarted) {
  s_.health.startup_timeout = 10s;
  sup().start();
  sup().tick();
  prober_.answerLast(loading503());
  advance(10s);  // exactly the timeout: still allowed
  EXPECT_EQ(sup().state(), ChildState::Loading);
  EXPECT_TRUE(launcher_.signals().empty());

  advance(1ms);
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT}));
  EXPECT_EQ(sup().state(), ChildState::Restarting);
  crash(killedBy(SIGTERM));
  EXPECT_TRUE(Contains(sup().snapshot().last_exit, "not ready within"));
  EXPECT_TRUE(respawnsAfter(250ms));
}

TEST_F(ChildSupervisorTest, AnswerToAPollInFlightWhenTerminationStartsIsIgnored) {
  s_.health.startup_timeout = 10s;
  sup().start();
  sup().tick();
  prober_.answerLast(loading503());
  advance(10s);  // a poll goes out at the last allowed moment...
  ASSERT_EQ(prober_.pending(), 1u);
  advance(1ms);  // ...and is still in flight when the startup timeout terminates the child
  ASSERT_EQ(sup().state(), ChildState::Restarting);
  const size_t notifications = states_.size();
  prober_.answerLast(ok200());  // too late: the instance is already being killed
  EXPECT_EQ(sup().state(), ChildState::Restarting);
  EXPECT_EQ(states_.size(), notifications);
}

TEST_F(ChildSupervisorTest, StopSendsSigtermThenSigkillAfterGraceAndEndsStopped) {
  startReady();
  sup().stop();
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT}));
  EXPECT_NE(sup().state(), ChildState::Restarting);
  EXPECT_FALSE(sup().finished());

  advance(s_.stop_grace - 1ms);
  EXPECT_EQ(launcher_.signals().size(), 2u);
  advance(1ms);
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT, SIGKILL}));
  EXPECT_FALSE(sup().finished()) << "not finished until the child is reaped";

  crash(killedBy(SIGKILL));
  EXPECT_EQ(sup().state(), ChildState::Stopped);
  EXPECT_TRUE(sup().finished());
  advance(hours(1));
  EXPECT_EQ(launcher_.launches(), 1);
  EXPECT_EQ(sup().state(), ChildState::Stopped);
}

TEST_F(ChildSupervisorTest, StopWithZeroGraceKillsAtOnce) {
  s_.stop_grace = 0ms;
  startReady();
  sup().stop();
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT, SIGKILL}));
  advance(1s);
  EXPECT_EQ(launcher_.signals().size(), 3u);
}

TEST_F(ChildSupervisorTest, StopDuringBackoffDoesNotRespawn) {
  startReady();
  crash();
  ASSERT_EQ(sup().state(), ChildState::Restarting);
  sup().stop();
  EXPECT_EQ(sup().state(), ChildState::Stopped);
  EXPECT_TRUE(sup().finished());
  advance(hours(1));
  EXPECT_EQ(launcher_.launches(), 1);
  EXPECT_EQ(sup().state(), ChildState::Stopped);
}

TEST_F(ChildSupervisorTest, ResetAfterStopDoesNotStartTheChild) {
  startReady();
  sup().stop();
  crash(killedBy(SIGTERM));
  ASSERT_TRUE(sup().finished());
  sup().reset();  // an operator restart does not undo a shutdown
  EXPECT_EQ(launcher_.launches(), 1);
  EXPECT_EQ(sup().state(), ChildState::Stopped);
}

TEST_F(ChildSupervisorTest, StartAfterStopRunsTheChildAgain) {
  startReady();
  sup().stop();
  crash(killedBy(SIGTERM));
  ASSERT_TRUE(sup().finished());
  sup().start();
  EXPECT_EQ(sup().state(), ChildState::Starting);
  EXPECT_EQ(launcher_.launches(), 2);
  EXPECT_FALSE(sup().finished());
}

TEST_F(ChildSupervisorTest, StopWhileTerminatingAHungChildEndsStoppedWithoutRestart) {
  startReady();
  for (int i = 0; i < s_.health.failure_threshold; ++i) pollAnswer(timedOut());
  ASSERT_EQ(sup().state(), ChildState::Restarting);
  sup().stop();
  crash(killedBy(SIGTERM));
  EXPECT_EQ(sup().state(), ChildState::Stopped);
  EXPECT_TRUE(sup().finished());
  advance(hours(1));
  EXPECT_EQ(launcher_.launches(), 1);
}

TEST_F(ChildSupervisorTest, StaleHealthResultFromPreviousInstanceIsIgnored) {
  sup().start();
  sup().tick();
  ASSERT_EQ(prober_.count(), 1u);  // asked of instance 1, never answered before it died
  crash();
  ASSERT_TRUE(respawnsAfter(250ms));
  ASSERT_EQ(prober_.count(), 2u);  // instance 2's first poll

  prober_.answer(0, ok200());
  EXPECT_EQ(sup().state(), ChildState::Starting);
  // Nor does it free the in-flight slot of instance 2's poll.
  advance(1s);
  EXPECT_EQ(prober_.count(), 2u);

  prober_.answer(1, ok200());
  EXPECT_EQ(sup().state(), ChildState::Ready);
}

TEST_F(ChildSupervisorTest, HealthResultArrivingAfterExitIsIgnored) {
  sup().start();
  sup().tick();
  crash();
  prober_.answerLast(ok200());
  EXPECT_EQ(sup().state(), ChildState::Restarting);
}

TEST_F(ChildSupervisorTest, HealthResultAfterSupervisorIsDestroyedIsDropped) {
  // Its own supervisor, whose onChange touches only a counter that outlives it: a callback
  // that reached the freed supervisor would turn this 200 into a "ready" change (and ASan
  // would report the use after free).
  int changes = 0;
  auto doomed = std::make_unique<ChildSupervisor>("model-a", s_, clock_, random_, launcher_,
                                                  prober_, [&changes] { ++changes; });
  doomed->start();
  doomed->tick();
  ASSERT_EQ(prober_.pending(), 1u);
  ASSERT_EQ(doomed->state(), ChildState::Starting);
  const int before = changes;
  doomed.reset();
  prober_.answerLast(ok200());
  EXPECT_EQ(changes, before) << "a health result reached a destroyed supervisor";
}

TEST_F(ChildSupervisorTest, SnapshotReportsPidPortRestartsAndLastExit) {
  sup().start();
  sup().tick();
  prober_.answerLast(ok200(12ms));
  clock_.advance(5s);
  ChildSnapshot snap = sup().snapshot();
  EXPECT_EQ(snap.name, "model-a");
  EXPECT_EQ(snap.state, ChildState::Ready);
  EXPECT_EQ(snap.pid, 1001);
  EXPECT_EQ(snap.port, 40001);
  EXPECT_EQ(snap.restarts, 0);
  EXPECT_EQ(snap.last_exit, "");
  EXPECT_DOUBLE_EQ(snap.uptime_s, 5.0);
  EXPECT_DOUBLE_EQ(snap.last_poll_ms, 12.0);
  EXPECT_EQ(snap.consecutive_failures, 0);

  crash(exitedWith(3));
  snap = sup().snapshot();
  EXPECT_EQ(snap.state, ChildState::Restarting);
  EXPECT_EQ(snap.pid, -1);
  EXPECT_EQ(snap.restarts, 1);
  EXPECT_EQ(snap.last_exit, "exit code 3");
  EXPECT_DOUBLE_EQ(snap.uptime_s, 0.0);

  ASSERT_TRUE(respawnsAfter(250ms));
  snap = sup().snapshot();
  EXPECT_EQ(snap.pid, 1002);
  EXPECT_EQ(snap.port, 40002);
  EXPECT_EQ(snap.restarts, 1);
  EXPECT_EQ(snap.last_exit, "exit code 3") << "kept until the next exit";
}

TEST_F(ChildSupervisorTest, TimedOutPollDoesNotOverwriteLastPollLatency) {
  startReady();
  pollAnswer(ok200(7ms));
  pollAnswer(timedOut());
  EXPECT_DOUBLE_EQ(sup().snapshot().last_poll_ms, 7.0);
}

TEST_F(ChildSupervisorTest, OnChangeFiresOnStateChanges) {
  sup().start();
  sup().tick();
  prober_.answerLast(loading503());
  advance(100ms);
  prober_.answerLast(loading503());  // still loading: no news
  advance(100ms);
  prober_.answerLast(ok200());
  pollAnswer(ok200());  // still ready: no news
  pollAnswer(error500());
  pollAnswer(ok200());
  crash();
  advance(250ms);
  sup().stop();  // no news until the child has gone
  crash(killedBy(SIGTERM));

  using S = ChildState;
  EXPECT_EQ(states_, (std::vector<S>{S::Starting, S::Loading, S::Ready, S::Unhealthy, S::Ready,
                                     S::Restarting, S::Starting, S::Stopped}));
}

}  // namespace
}  // namespace qmesh::test
