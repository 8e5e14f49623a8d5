// Supervises one child (a llama-server, or the router): spawn, health-poll, restart with
// backoff, give up on a crash loop, stop gracefully. Pure logic: time, randomness, processes
// and HTTP come in through the constructor, so tests drive it with a fake clock.
//
//            start()                 /health 503               /health 200
//   (new) ----------> STARTING -----------------> LOADING ----------------> READY
//                        |  \________________________________________________^  |
//                        |                /health 200                           | poll fails
//                        |                                                      v
//                        |  exit, or no READY within              UNHEALTHY (< threshold fails)
//                        |  startup_timeout                          |   | poll ok -> READY
//                        v                                           |   | threshold fails (hung)
//                   RESTARTING <------ exit (crash) ----------------+---+-- SIGTERM, grace, SIGKILL
//                   (backoff) ---- more than max_restarts within window ---> FAILED
//                        |                                                  (reset() restarts)
//                        +--> spawn again: STARTING
//
//   stop() from any state: SIGTERM to the process group, SIGKILL after stop_grace -> STOPPED.
//
//   Models loaded on demand (supervisor/node_supervisor.h):
//     markUnloaded() before start: UNLOADED, nothing runs.
//     load() from UNLOADED: spawn -> STARTING ... as above.
//     unload() from any state but STOPPED: UNLOADED at once (no request is routed to it);
//       a running instance gets SIGTERM, SIGKILL after stop_grace, and is not restarted.
//       load() while it still exits spawns the next one once it is reaped.
//
// Concurrency: single-threaded; every method runs on the owner's event-loop thread, and
// health results must be delivered there too.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/histogram.h"
#include "common/node_config.h"
#include "common/random.h"
#include "supervisor/backoff.h"
#include "supervisor/child_process.h"
#include "supervisor/health_prober.h"

namespace qmesh {

enum class ChildState { Starting, Loading, Ready, Unhealthy, Restarting, Failed, Stopped, Unloaded };
const char* toString(ChildState s);

// What the supervisor needs from "a way to run this child".
class ChildLauncher {
 public:
  struct Launched {
    pid_t pid = -1;
    uint16_t port = 0;  // where /health answers
    std::string host = "127.0.0.1";  // an IP literal; IPv6 without brackets
  };
  virtual ~ChildLauncher() = default;
  virtual Result<Launched> launch() = 0;
  virtual void signal(int sig) = 0;                 // the running instance's process group
  virtual std::optional<ExitStatus> tryReap() = 0;  // non-blocking; the exit once it happened
};

struct ChildSnapshot {
  std::string name;
  ChildState state = ChildState::Stopped;
  pid_t pid = -1;
  uint16_t port = 0;
  int restarts = 0;              // since the supervisor started
  std::string last_exit;         // why the previous instance ended
  double uptime_s = 0;           // of the current instance
  double last_poll_ms = 0;       // latency of the last answered /health
  int consecutive_failures = 0;
};

class ChildSupervisor {
 public:
  ChildSupervisor(std::string name, const SupervisorSection& settings, Clock& clock,
                  Random& random, ChildLauncher& launcher, HealthProber& prober,
                  std::function<void()> onChange);
  ~ChildSupervisor();

  void start();
  void tick();   // call often (and on SIGCHLD): reaps, fires deadlines, issues polls
  // Graceful; done once finished() is true. `grace`: SIGKILL after this instead of
  // stop_grace (a draining router's: node_drain.h).
  void stop(std::optional<Millis> grace = std::nullopt);
  void reset();  // operator: forget the crash loop and start (again) now
  void markUnloaded();  // instead of start(): a model loaded on demand
  bool load();          // false: it was not unloaded (already loaded, loading, or stopping)
  bool unload();        // false: stopping, or already unloaded
  bool finished() const { return state_ == ChildState::Stopped && !running_; }
  ChildState state() const { return state_; }
  ChildSnapshot snapshot() const;
  const std::string& name() const { return name_; }
  const Histogram& pollLatency() const { return pollLatency_; }

  // Exposed for the health callback and tests.
  void onHealth(uint64_t instance, const HealthResult& result);

 private:
  void spawn();
  void onExit(const ExitStatus& status);
  // SIGTERM now, SIGKILL at the grace deadline (stop_grace unless given).
  void terminate(const std::string& reason, std::optional<Millis> grace = std::nullopt);
  void scheduleRestart(const std::string& reason);
  void setState(ChildState s);
  void pollIfDue();

  std::string name_;
  SupervisorSection settings_;
  Clock& clock_;
  Random& random_;
  ChildLauncher& launcher_;
  HealthProber& prober_;
  std::function<void()> onChange_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // guards late health callbacks

  ChildState state_ = ChildState::Stopped;
  RestartHistory history_;
  bool running_ = false;      // an instance exists and is not reaped yet
  bool stopping_ = false;     // stop() was called: no more restarts
  bool unloading_ = false;    // unload() ended the running instance: no restart
  bool loadAfterExit_ = false;  // load() came while that instance was still exiting
  bool killSent_ = false;
  uint64_t instance_ = 0;     // bumps per spawn; stale health results are ignored
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string host_ = "127.0.0.1";
  int restarts_ = 0;
  int failures_ = 0;
  int crashesSinceReady_ = 0;  // the backoff exponent
  bool pollInFlight_ = false;
  std::string lastExit_;
  std::string pendingReason_;  // why the running instance is being terminated
  TimePoint spawnedAt_{};
  TimePoint nextPollAt_{};
  std::optional<TimePoint> killAt_;
  std::optional<TimePoint> restartAt_;
  Millis lastPollLatency_{0};
  // Milliseconds (the metric is qmesh_supervisor_health_poll_latency_ms), fine at the low end
  // where a healthy local server answers.
  Histogram pollLatency_{{0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}};
};

}  // namespace qmesh
