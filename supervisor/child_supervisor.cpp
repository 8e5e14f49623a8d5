#include "supervisor/child_supervisor.h"

#include <signal.h>

#include "common/duration.h"
#include "common/logging.h"

#include <utility>

namespace qmesh {

namespace {

// While a child starts, poll faster than the steady-state interval: the time from "listening"
// to "ready" is what every restart costs clients, and a refused connect is nearly free.
constexpr Millis kStartupPollInterval{100};

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

const char* toString(ChildState s) {
  switch (s) {
    case ChildState::Starting: return "starting";
    case ChildState::Loading: return "loading";
    case ChildState::Ready: return "ready";
    case ChildState::Unhealthy: return "unhealthy";
    case ChildState::Restarting: return "restarting";
    case ChildState::Failed: return "failed";
    case ChildState::Stopped: return "stopped";
    case ChildState::Unloaded: return "unloaded";
  }
  return "?";
}

ChildSupervisor::ChildSupervisor(std::string name, const SupervisorSection& settings, Clock& clock,
                                 Random& random, ChildLauncher& launcher, HealthProber& prober,
                                 std::function<void()> onChange)
    : name_(std::move(name)),
      settings_(settings),
      clock_(clock),
      random_(random),
      launcher_(launcher),
      prober_(prober),
      onChange_(std::move(onChange)),
      history_(settings.restart) {}

ChildSupervisor::~ChildSupervisor() { *alive_ = false; }

// Notifies even when the state is unchanged: pid, port, restarts or failures moved.
void ChildSupervisor::setState(ChildState s) {
  state_ = s;
  if (onChange_) onChange_();
}

void ChildSupervisor::start() {
  stopping_ = false;
  spawn();
}

void ChildSupervisor::spawn() {
  restartAt_.reset();
  auto launched = launcher_.launch();
  if (!launched) {
    lastExit_ = "spawn failed: " + launched.error().message;
    spdlog::error("[{}] {}", name_, lastExit_);
    scheduleRestart(lastExit_);
    return;
  }
  running_ = true;
  ++instance_;
  pid_ = launched->pid;
  port_ = launched->port;
  host_ = launched->host;
  spawnedAt_ = clock_.now();
  nextPollAt_ = spawnedAt_;
  failures_ = 0;
  pollInFlight_ = false;
  killAt_.reset();
  killSent_ = false;
  pendingReason_.clear();
  spdlog::info("[{}] spawned pid {} on {}", name_, pid_, HostPort{host_, port_}.str());
  setState(ChildState::Starting);
}

void ChildSupervisor::tick() {
  const TimePoint now = clock_.now();
  if (running_) {
    if (auto status = launcher_.tryReap()) {
      onExit(*status);
    }
  }
  if (running_ && killAt_ && !killSent_ && now >= *killAt_) {
    spdlog::warn("[{}] pid {} still alive {} ms after SIGTERM: sending SIGKILL", name_, pid_,
                 settings_.stop_grace.count());
    launcher_.signal(SIGKILL);
    killSent_ = true;
  }
  if (!running_ && !stopping_ && state_ == ChildState::Restarting && restartAt_ &&
      now >= *restartAt_) {
    spawn();
  }
  if (running_ && !killAt_ &&
      (state_ == ChildState::Starting || state_ == ChildState::Loading) &&
      now - spawnedAt_ > settings_.health.startup_timeout) {
    terminate("not ready within " + formatDuration(settings_.health.startup_timeout) +
              " (supervisor.health.startup_timeout)");
  }
  pollIfDue();
}

void ChildSupervisor::pollIfDue() {
  if (!running_ || pollInFlight_ || killAt_ || clock_.now() < nextPollAt_) return;
  pollInFlight_ = true;
  const std::string url = "http://" + HostPort{host_, port_}.str() + "/health";
  std::weak_ptr<bool> alive = alive_;
  prober_.probe(url, settings_.health.timeout,
                [this, alive, instance = instance_](const HealthResult& r) {
                  if (auto a = alive.lock(); a && *a) onHealth(instance, r);
                });
}

void ChildSupervisor::onHealth(uint64_t instance, const HealthResult& r) {
  if (instance != instance_ || !running_) return;  // an answer about an earlier instance
  pollInFlight_ = false;
  const TimePoint now = clock_.now();
  if (killAt_) return;
  const bool starting = state_ == ChildState::Starting || state_ == ChildState::Loading;
  if (r.outcome != HealthOutcome::Timeout) lastPollLatency_ = r.latency;
  pollLatency_.observe(std::chrono::duration<double, std::milli>(r.latency).count());
  nextPollAt_ = now + (starting ? std::min(kStartupPollInterval, settings_.health.interval)
                                : settings_.health.interval);
  if (r.outcome == HealthOutcome::Ready) {
    if (state_ != ChildState::Ready)
      spdlog::info("[{}] ready (pid {}, port {}, {:.2f} s after spawn)", name_, pid_, port_,
                   seconds(now - spawnedAt_));
    const bool changed = state_ != ChildState::Ready || failures_ != 0;
    failures_ = 0;
    crashesSinceReady_ = 0;
    nextPollAt_ = now + settings_.health.interval;
    if (changed) setState(ChildState::Ready);
    return;
  }
  if (starting) {
    // Before the first 200 only startup_timeout judges the child: a big model loads slowly.
    if (r.outcome == HealthOutcome::Loading && state_ == ChildState::Starting) {
      spdlog::info("[{}] loading the model", name_);
      setState(ChildState::Loading);
    }
    return;
  }
  ++failures_;
  if (failures_ >= settings_.health.failure_threshold) {
    terminate("hung: " + std::to_string(failures_) + " consecutive failed health polls (last: " +
              r.detail + ")");
    return;
  }
  spdlog::warn("[{}] health poll failed ({}/{}): {}", name_, failures_,
               settings_.health.failure_threshold, r.detail);
  setState(ChildState::Unhealthy);
}

void ChildSupervisor::terminate(const std::string& reason, std::optional<Millis> grace) {
  if (!running_ || killAt_) return;
  const Millis limit = grace.value_or(settings_.stop_grace);
  pendingReason_ = reason;
  if (stopping_ || unloading_) spdlog::info("[{}] stopping pid {}: {}", name_, pid_, reason);
  else spdlog::warn("[{}] stopping pid {}: {}", name_, pid_, reason);
  launcher_.signal(SIGTERM);
  launcher_.signal(SIGCONT);  // a SIGSTOPped child must run to act on SIGTERM
  killAt_ = clock_.now() + limit;
  if (limit.count() == 0) {
    launcher_.signal(SIGKILL);
    killSent_ = true;
  }
  if (!stopping_ && !unloading_) setState(ChildState::Restarting);
}

void ChildSupervisor::onExit(const ExitStatus& status) {
  running_ = false;
  pid_ = -1;
  killAt_.reset();
  killSent_ = false;
  pollInFlight_ = false;
  lastExit_ = pendingReason_.empty() ? status.describe() : pendingReason_ + "; " + status.describe();
  pendingReason_.clear();
  if (stopping_) {
    spdlog::info("[{}] stopped ({})", name_, status.describe());
    setState(ChildState::Stopped);
    return;
  }
  if (unloading_) {
    unloading_ = false;
    spdlog::info("[{}] unloaded ({})", name_, status.describe());
    if (std::exchange(loadAfterExit_, false)) return spawn();
    setState(ChildState::Unloaded);
    return;
  }
  spdlog::warn("[{}] exited: {}", name_, lastExit_);
  scheduleRestart(lastExit_);
}

void ChildSupervisor::scheduleRestart(const std::string& reason) {
  const TimePoint now = clock_.now();
  history_.record(now);
  if (history_.crashLoop()) {
    spdlog::error("[{}] failed: crash loop, {} restarts within {} (max {}); last: {}. "
                  "Fix the cause, then run `qmesh-supervisor restart {}`",
                  name_, history_.recent(), formatDuration(settings_.restart.window),
                  settings_.restart.max_restarts, reason, name_);
    restartAt_.reset();
    setState(ChildState::Failed);
    return;
  }
  // The delay grows with crashes since the child was last ready, so a server that ran fine
  // and then died comes back fast; the crash-loop verdict above counts every restart.
  const Millis delay = backoffDelay(settings_.restart, crashesSinceReady_++, random_);
  restartAt_ = now + delay;
  ++restarts_;
  spdlog::info("[{}] restarting in {} ms (restart {} within {})", name_, delay.count(),
               history_.recent(), formatDuration(settings_.restart.window));
  setState(ChildState::Restarting);
}

void ChildSupervisor::stop(std::optional<Millis> grace) {
  stopping_ = true;
  restartAt_.reset();
  if (running_) {
    terminate("stopped by the supervisor", grace);
  } else {
    setState(ChildState::Stopped);
  }
}

void ChildSupervisor::reset() {
  if (stopping_) return;
  history_.clear();
  crashesSinceReady_ = 0;
  spdlog::info("[{}] restart requested by the operator", name_);
  if (running_) {
    terminate("restarted by the operator");
  } else {
    spawn();
  }
}

void ChildSupervisor::markUnloaded() { setState(ChildState::Unloaded); }

bool ChildSupervisor::load() {
  if (stopping_ || state_ != ChildState::Unloaded) return false;
  spdlog::info("[{}] loading on request", name_);
  if (running_) loadAfterExit_ = true;  // the unloaded instance is still exiting
  else spawn();
  return true;
}

bool ChildSupervisor::unload() {
  if (stopping_) return false;
  if (state_ == ChildState::Unloaded) return std::exchange(loadAfterExit_, false);
  restartAt_.reset();
  history_.clear();  // an unload is no crash: the next load starts with a clean record
  crashesSinceReady_ = 0;
  if (running_) {
    unloading_ = true;
    terminate("unloaded");
  }
  setState(ChildState::Unloaded);
  return true;
}

ChildSnapshot ChildSupervisor::snapshot() const {
  ChildSnapshot s;
  s.name = name_;
  s.state = state_;
  s.pid = running_ ? pid_ : -1;
  s.port = port_;
  s.restarts = restarts_;
  s.last_exit = lastExit_;
  s.uptime_s = running_ ? seconds(clock_.now() - spawnedAt_) : 0;
  s.last_poll_ms = std::chrono::duration<double, std::milli>(lastPollLatency_).count();
  s.consecutive_failures = failures_;
  return s;
}

}  // namespace qmesh
