// A Clock that moves only when the test says so: timers and deadlines in the code under test
// become plain arithmetic, and a test reads as a timeline of advance() calls.
#pragma once

#include <chrono>

#include "common/clock.h"
#include "common/node_config.h"

namespace qmesh::test {

class FakeClock final : public Clock {
 public:
  // Starts far from the epoch, so a default-constructed TimePoint{} in the code under test is
  // "long ago" rather than "now" and cannot hide a missing initialisation.
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(24 * 365))
      : now_(start) {}

  TimePoint now() const override { return now_; }
  void advance(Millis d) { now_ += d; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

}  // namespace qmesh::test
