#include "router/membership/sim_scheduler.h"

namespace qmesh::membership {

void SimScheduler::at(TimePoint when, std::function<void()> fn) {
  if (when < now_) when = now_;
  queue_.push(Event{when, nextOrder_++, std::move(fn)});
}

bool SimScheduler::runOne(TimePoint until) {
  if (queue_.empty() || queue_.top().when > until) return false;
  // Copy out before popping: the callback may schedule more events.
  Event ev = queue_.top();
  queue_.pop();
  now_ = ev.when;
  ++eventsRun_;
  ev.fn();
  return true;
}

void SimScheduler::runUntil(TimePoint until) {
  while (runOne(until)) {
  }
  if (until > now_) now_ = until;
}

bool SimScheduler::runUntilTrue(const std::function<bool()>& done, Duration limit) {
  const TimePoint until = now_ + limit;
  if (done()) return true;
  while (runOne(until)) {
    if (done()) return true;
  }
  if (until > now_) now_ = until;
  return done();
}

}  // namespace qmesh::membership
