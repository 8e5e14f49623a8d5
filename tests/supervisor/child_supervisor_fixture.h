// Fakes for driving ChildSupervisor without processes or HTTP: a launcher whose instances
// "exit" when the test says so, a prober whose probes the test answers, and a fixture that
// wires them to a FakeClock and a FakeRandom.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "supervisor/child_supervisor.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_random.h"

namespace qmesh::test {

using namespace std::chrono_literals;  // test-only header, inside qmesh::test

// The longest of the first five backoffs with the fixture's settings: 250 * 2^4 ms.
inline constexpr Millis kFifthBackoff{4000};

inline ExitStatus exitedWith(int code) { return ExitStatus{code << 8}; }  // as waitpid encodes it
inline ExitStatus killedBy(int sig) { return ExitStatus{sig}; }

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
    return Launched{static_cast<pid_t>(1000 + launches_), static_cast<uint16_t>(40000 + launches_), host_};
  }
  void signal(int sig) override { signals_.push_back(sig); }
  void answerOn(std::string host) { host_ = std::move(host); }  // where later launches listen
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
  std::string host_ = "127.0.0.1";
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

inline HealthResult ok200(Millis latency = 5ms) { return {HealthOutcome::Ready, 200, latency, "200 OK"}; }
inline HealthResult loading503() { return {HealthOutcome::Loading, 503, 3ms, "503 Service Unavailable"}; }
inline HealthResult refused() { return {HealthOutcome::Refused, 0, 1ms, "Connection refused"}; }
inline HealthResult timedOut() { return {HealthOutcome::Timeout, 0, 2000ms, "Timeout was reached"}; }
inline HealthResult error500() { return {HealthOutcome::HttpError, 500, 4ms, "500 Internal Server Error"}; }

inline ::testing::AssertionResult Contains(const std::string& text, const std::string& needle) {
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
  // One health.interval later a ready child is polled; answers that poll with `r`.
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

}  // namespace qmesh::test
