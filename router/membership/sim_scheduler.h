// Simulated time: a Clock whose now() is the time of the event being run, and a time-ordered
// queue of callbacks. Tests and the gossip simulator schedule work and then advance time;
// nothing sleeps, and a run with the same seeds replays exactly (ties break by insertion).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "common/clock.h"

namespace qmesh::membership {

using Duration = std::chrono::steady_clock::duration;

class SimScheduler final : public Clock {
 public:
  explicit SimScheduler(TimePoint start = TimePoint{} + std::chrono::hours(24 * 365))
      : now_(start) {}

  TimePoint now() const override { return now_; }

  // Events in the past run at the next opportunity, at the current time.
  void at(TimePoint when, std::function<void()> fn);
  void after(Duration d, std::function<void()> fn) { at(now_ + d, std::move(fn)); }

  // Runs every event due up to and including `until`, then leaves the clock at `until`.
  void runUntil(TimePoint until);
  void runFor(Duration d) { runUntil(now_ + d); }

  // Runs until `done` is true (checked after each event) or `limit` passes; returns done().
  bool runUntilTrue(const std::function<bool()>& done, Duration limit);

  std::size_t pending() const { return queue_.size(); }
  uint64_t eventsRun() const { return eventsRun_; }

 private:
  struct Event {
    TimePoint when;
    uint64_t order;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.when != b.when ? a.when > b.when : a.order > b.order;
    }
  };
  bool runOne(TimePoint until);

  TimePoint now_;
  uint64_t nextOrder_ = 0;
  uint64_t eventsRun_ = 0;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
};

}  // namespace qmesh::membership
