// Restart delays: exponential with a cap and +/- jitter, so a crashing model is retried fast
// the first time and gently after, and several crashed children do not restart in lockstep.
#pragma once

#include <deque>

#include "common/clock.h"
#include "common/node_config.h"
#include "common/random.h"

namespace qmesh {

// Delay before restart number `attempt` (0 = the first restart after a stable run).
// initial * multiplier^attempt, capped at max, then scaled by a factor in [1-jitter, 1+jitter].
Millis backoffDelay(const RestartSettings& s, int attempt, Random& random);

// Remembers recent restarts to tell a crash loop from the odd crash.
class RestartHistory {
 public:
  explicit RestartHistory(const RestartSettings& s) : settings_(s) {}
  // Records a restart at `now`; returns how many restarts fall inside the window (incl. this).
  int record(TimePoint now);
  // More than max_restarts inside the window.
  bool crashLoop() const { return static_cast<int64_t>(times_.size()) > settings_.max_restarts; }
  int recent() const { return static_cast<int>(times_.size()); }
  void clear() { times_.clear(); }

 private:
  RestartSettings settings_;
  std::deque<TimePoint> times_;
};

}  // namespace qmesh
