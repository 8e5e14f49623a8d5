// The child state machine (supervisor/child_supervisor.h), driven entirely by a fake clock, a
// fake launcher and a fake health prober: every transition of the diagram, every deadline
// checked one millisecond before and at the moment it falls due.
#include "supervisor/child_supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/fake_clock.h"
#include "tests/support/fake_random.h"

namespace qmesh {
namespace {

using std::chrono::hours;
using test::FakeClock;
using test::FakeRandom;
using namespace std::chrono_literals;

// The longest of the first five backoffs with the fixture's settings: 250 * 2^4 ms.
constexpr Millis kFifthBackoff{4000};

ExitStatus exitedWith(int code) { return ExitStatus{code << 8}; }  // as waitpid encodes it
ExitStatus killedBy(int sig) { return ExitStatus{sig}; }

// Pids and ports count up from 1001 and 40001 per successful launch. An instance "runs" from
// launch() until the test makes it exit and the supervisor reaps it.
class FakeLauncher final : public ChildLauncher {
 public:
  Result<Launched> launch() override {
    ++attempts_;
    if (alive_) ADD_FAILURE() << "launch() while the previous instance is still running";
    if (failuresLeft_ > 0) {
      --failuresLeft_;
      return makeError(failMessage_);
    }
    ++launches_;
    alive_ = true;
    pending_.reset();
    return Launched{static_cast<pid_t>(1000 + launches_), static_cast<uint16_t>(40000 + launches_)};
  }
  void signal(int sig) override { signals_.push_back(sig); }
  std::optional<ExitStatus> tryReap() override {
    if (!alive_ || !pending_) return std::nullopt;
    alive_ = false;
    return std::exchange(pending_, std::nullopt);
  }

  // The running instance ends; the supervisor sees it at its next tick().
  void exit(ExitStatus status) {
    if (!alive_) ADD_FAILURE() << "exit() with no running instance";
    pending_ = status;
  }
  void failNextLaunches(int n, std::string message) {
    failuresLeft_ = n;
    failMessage_ = std::move(message);
  }

  int launches() const { return launches_; }  // successful ones
  int attempts() const { return attempts_; }
  bool alive() const { return alive_; }
  const std::vector<int>& signals() const { return signals_; }
  void clearSignals() { signals_.clear(); }

 private:
  int launches_ = 0;
  int attempts_ = 0;
  bool alive_ = false;
  std::optional<ExitStatus> pending_;
  int failuresLeft_ = 0;
  std::string failMessage_;
  std::vector<int> signals_;
};

// Records each probe; the test answers it (or not) by running its callback.
class FakeProber final : public HealthProber {
 public:
  struct Probe {
    std::string url;
    Millis timeout;
    Callback done;
    bool answered = false;
  };

  void probe(const std::string& url, Millis timeout, Callback done) override {
    probes_.push_back({url, timeout, std::move(done)});
  }

  size_t count() const { return probes_.size(); }
  size_t pending() const {
    size_t n = 0;
    for (const auto& p : probes_) n += p.answered ? 0 : 1;
    return n;
  }
  const Probe& at(size_t i) const { return probes_.at(i); }
  // Answers probe `i` (exactly once, as the real prober promises).
  void answer(size_t i, const HealthResult& r) {
    Probe& p = probes_.at(i);
    ASSERT_FALSE(p.answered) << "probe " << i << " answered twice";
    p.answered = true;
    Callback done = p.done;  // the callback may issue new probes and grow the deque
    done(r);
  }
  // Answers the most recent probe, which must still be pending.
  void answerLast(const HealthResult& r) {
    ASSERT_FALSE(probes_.empty()) << "no probe was issued";
    answer(probes_.size() - 1, r);
  }

 private:
  std::deque<Probe> probes_;
};

HealthResult ok200(Millis latency = 5ms) { return {HealthOutcome::Ready, 200, latency, "200 OK"}; }
HealthResult loading503() { return {HealthOutcome::Loading, 503, 3ms, "503 Service Unavailable"}; }
HealthResult refused() { return {HealthOutcome::Refused, 0, 1ms, "Connection refused"}; }
HealthResult timedOut() { return {HealthOutcome::Timeout, 0, 2000ms, "Timeout was reached"}; }
HealthResult error500() { return {HealthOutcome::HttpError, 500, 4ms, "500 Internal Server Error"}; }

::testing::AssertionResult Contains(const std::string& text, const std::string& needle) {
  if (text.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected to find \"" << needle << "\" in \"" << text
                                       << "\"";
}

class ChildSupervisorTest : public ::testing::Test {
 protected:
  ChildSupervisorTest() {
    savedLevel_ = spdlog::get_level();
    spdlog::set_level(spdlog::level::off);  // the supervisor logs every transition
    s_.health.interval = 1000ms;
    s_.health.timeout = 2000ms;
    s_.health.failure_threshold = 3;
    s_.health.startup_timeout = 60s;
    s_.restart.backoff_initial = 250ms;
    s_.restart.backoff_max = 30000ms;
    s_.restart.backoff_multiplier = 2.0;
    s_.restart.jitter = 0.2;  // neutralised by FakeRandom's 0.5
    s_.restart.max_restarts = 5;
    s_.restart.window = 60s;
    s_.stop_grace = 5000ms;
  }
  ~ChildSupervisorTest() override {
    sup_.reset();
    spdlog::set_level(savedLevel_);
  }

  // Built on first use, so a test can change s_ before.
  ChildSupervisor& sup() {
    if (!sup_) {
      sup_ = std::make_unique<ChildSupervisor>("model-a", s_, clock_, random_, launcher_, prober_,
                                               [this] { states_.push_back(sup_->state()); });
    }
    return *sup_;
  }
  void advance(Millis d) {
    clock_.advance(d);
    sup().tick();
  }
  // start(), first poll answered 200.
  void startReady() {
    sup().start();
    sup().tick();
    prober_.answerLast(ok200());
    ASSERT_EQ(sup().state(), ChildState::Ready);
  }
  // The running instance exits with `status` and the supervisor reaps it.
  void crash(ExitStatus status = exitedWith(1)) {
    launcher_.exit(status);
    sup().tick();
  }
  // Nothing is spawned one millisecond before `delay` has passed, and a spawn happens at it.
  ::testing::AssertionResult respawnsAfter(Millis delay) {
    const int before = launcher_.attempts();
    if (sup().state() != ChildState::Restarting)
      return ::testing::AssertionFailure() << "state is " << toString(sup().state());
    advance(delay - 1ms);
    if (launcher_.attempts() != before)
      return ::testing::AssertionFailure() << "spawned before " << delay.count() << " ms";
    advance(1ms);
    if (launcher_.attempts() != before + 1)
      return ::testing::AssertionFailure() << "no spawn at " << delay.count() << " ms";
    return ::testing::AssertionSuccess();
  }
  // Answers every due poll of a ready child with `r`, one interval apart.
  void pollAnswer(const HealthResult& r) {
    const size_t before = prober_.count();
    advance(s_.health.interval);
    ASSERT_EQ(prober_.count(), before + 1) << "no poll after one interval";
    prober_.answerLast(r);
  }

  SupervisorSection s_;
  FakeClock clock_;
  FakeRandom random_{0.5};
  FakeLauncher launcher_;
  FakeProber prober_;
  std::vector<ChildState> states_;  // state at each onChange
  std::unique_ptr<ChildSupervisor> sup_;
  spdlog::level::level_enum savedLevel_;
};

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

TEST_F(ChildSupervisorTest, RestartsAfterCrashWithBackoff) {
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

TEST_F(ChildSupervisorTest, BackoffGrowsWithRepeatedCrashesAndIsCappedAtMax) {
  s_.restart.backoff_max = 2000ms;
  s_.restart.max_restarts = 100;
  sup().start();
  for (Millis expected : {250ms, 500ms, 1000ms, 2000ms, 2000ms, 2000ms}) {
    crash(exitedWith(1));
    EXPECT_TRUE(respawnsAfter(expected)) << "expected " << expected.count() << " ms";
  }
}

TEST_F(ChildSupervisorTest, BackoffJitterComesFromTheInjectedRandom) {
  random_.setFixed(0.0);  // factor 1 - jitter = 0.8
  sup().start();
  crash();
  EXPECT_TRUE(respawnsAfter(200ms));
}

TEST_F(ChildSupervisorTest, BackoffStartsOverAfterAStableRunLongerThanTheWindow) {
  sup().start();
  crash();
  ASSERT_TRUE(respawnsAfter(250ms));
  crash();
  ASSERT_TRUE(respawnsAfter(500ms));
  clock_.advance(s_.restart.window + 1ms);  // stable for longer than the window
  crash();
  EXPECT_TRUE(respawnsAfter(250ms));
}

TEST_F(ChildSupervisorTest, MarksFailedAfterMoreThanMaxRestartsWithinWindow) {
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

TEST_F(ChildSupervisorTest, CrashesSpreadBeyondTheWindowDoNotFail) {
  s_.restart.max_restarts = 2;
  sup().start();
  // A crash every 31 s: any 60 s window holds at most two, which is not more than two.
  for (int i = 0; i < 12; ++i) {
    advance(30s);
    crash();
    ASSERT_EQ(sup().state(), ChildState::Restarting) << "crash " << i + 1;
    advance(1s);  // the backoff (250 ms, then 500 ms)
    ASSERT_EQ(sup().state(), ChildState::Starting);
  }
  EXPECT_EQ(launcher_.launches(), 13);
  EXPECT_EQ(sup().snapshot().restarts, 12);
}

TEST_F(ChildSupervisorTest, CrashExactlyAtTheWindowEdgeStillCounts) {
  s_.restart.max_restarts = 1;
  sup().start();
  crash();
  ASSERT_TRUE(respawnsAfter(250ms));
  clock_.advance(s_.restart.window - 250ms);  // second crash exactly `window` after the first
  crash();
  EXPECT_EQ(sup().state(), ChildState::Failed);
}

TEST_F(ChildSupervisorTest, ResetRestartsAFailedChild) {
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

TEST_F(ChildSupervisorTest, ResetForgetsTheCrashLoopHistory) {
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

TEST_F(ChildSupervisorTest, ResetOfARunningChildTerminatesThenRestartsIt) {
  startReady();
  sup().reset();
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT}));
  EXPECT_EQ(sup().state(), ChildState::Restarting);
  crash(killedBy(SIGTERM));
  EXPECT_TRUE(Contains(sup().snapshot().last_exit, "restarted by the operator"));
  EXPECT_TRUE(respawnsAfter(250ms));
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
  sup().start();
  sup().tick();
  sup_.reset();
  prober_.answerLast(ok200());  // must not touch the freed supervisor (ASan would see it)
  SUCCEED();
}

TEST_F(ChildSupervisorTest, LaunchFailureIsTreatedAsCrash) {
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

TEST_F(ChildSupervisorTest, RepeatedLaunchFailuresEndFailed) {
  launcher_.failNextLaunches(1000, "exec failed");
  sup().start();
  for (int i = 0; i < 20; ++i) advance(kFifthBackoff);
  EXPECT_EQ(sup().state(), ChildState::Failed);
  EXPECT_EQ(launcher_.attempts(), s_.restart.max_restarts + 1);
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
}  // namespace qmesh
